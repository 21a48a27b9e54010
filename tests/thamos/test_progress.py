"""The status line while ``thamos advise`` waits: the sdist build in progress, read cheaply from the log."""

from __future__ import annotations

from thamos.progress import LOG_INTERVAL, LogWatch, current_build

START = "building metadata of psycopg2 2.9.10 (sdist) with CPython 3.11.7 (/opt/python/3.11.7/bin/python3.11)"
FALLBACK = (
    "building metadata of cssmin 0.2.0 (sdist) with CPython 3.11.7 (/usr/bin/python3.11), "
    "used because no Python 3.9 was found"
)


def test_the_build_in_progress_is_the_last_build_line_when_it_is_a_start():
    assert current_build("") is None
    assert current_build("resolving 3 direct requirements for linux-x86_64 Python 3.11.14\n") is None
    assert current_build(f"resolving\n{START}\n  psycopg2 2.9.10: installing setuptools\n") == (
        "building metadata of psycopg2 2.9.10 (sdist) with CPython 3.11.7"
    )
    assert current_build(FALLBACK) == (
        "building metadata of cssmin 0.2.0 (sdist) with CPython 3.11.7, used because no Python 3.9 was found"
    )
    assert current_build(f"{START}\nbuilt metadata of psycopg2 2.9.10 in 8.1 s (prepare_metadata_for_build_wheel)") is None
    failed = "building metadata of psycopg2 2.9.10 failed after 2.0 s: pg_config executable not found"
    assert current_build(f"{START}\n{failed}\n") is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_log_is_read_only_for_runs_that_last_and_then_seldom():
    clock, reads = Clock(), []

    def read_log() -> str:
        reads.append(clock.now)
        return START

    watch = LogWatch(read_log, clock)
    assert watch.describe("pending") == "pending" and reads == []
    assert watch.describe("running") == "running"  # a run just started: no request
    clock.now += LOG_INTERVAL / 2
    assert watch.describe("running") == "running" and reads == []
    clock.now += LOG_INTERVAL / 2
    expected = "running, building metadata of psycopg2 2.9.10 (sdist) with CPython 3.11.7"
    assert watch.describe("running") == expected and len(reads) == 1
    clock.now += 0.5
    assert watch.describe("running") == expected and len(reads) == 1  # not read again so soon
    clock.now += LOG_INTERVAL
    watch.describe("running")
    assert len(reads) == 2


def test_a_log_that_cannot_be_read_ends_the_watching_not_the_wait():
    clock, calls = Clock(), []

    def failing() -> str:
        calls.append(clock.now)
        raise RuntimeError("HTTP 404")

    watch = LogWatch(failing, clock)
    for _ in range(5):
        assert watch.describe("running") == "running"
        clock.now += LOG_INTERVAL
    assert len(calls) == 1
