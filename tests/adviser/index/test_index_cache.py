"""The persistent index cache: TTL of pages, metadata kept forever, sharing between threads and processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adviser.index import IndexClient, IndexSource, IndexUnreachable, MetadataUnavailable, PackageNotFound
from adviser.index.cache import CACHE_FILENAME
from tests.support.index_server import Dist

REPO = Path(__file__).resolve().parents[3]

DISTS = [
    Dist("alpha", "1.0", requires_dist=("beta>=1",)),
    Dist("beta", "1.0", metadata_file=False),
    Dist("gamma", "1.0", wheel=False, requires_dist=("alpha",)),
]


def read_everything(client: IndexClient, source: IndexSource) -> dict[str, tuple[str, ...]]:
    """Pages of all DISTS projects and the metadata of every file; returns requirements by filename."""
    client.prefetch_pages(["alpha", "beta", "gamma"])
    result = {}
    for name in ("alpha", "beta", "gamma"):
        for link in client.project_page(source, name).files:
            result[link.filename] = client.metadata(link).requires_dist
    return result


@pytest.fixture
def index(package_index):
    server = package_index(DISTS)
    return server, IndexSource("main", server.url)


def test_second_client_makes_no_requests_within_ttl(index, tmp_cache_dir):
    server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        first = read_everything(client, source)
        assert client.stats()["pages_fetched"] == 3
    assert first["alpha-1.0-py3-none-any.whl"] == ("beta>=1",)
    assert first["gamma-1.0.tar.gz"] == ("alpha",)
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:
        assert read_everything(client, source) == first
        stats = client.stats()
    assert server.requests == []
    assert stats["pages_cached"] == 3 and stats["metadata_cached"] == len(first)


def test_metadata_is_kept_forever_pages_expire(index, tmp_cache_dir):
    server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        read_everything(client, source)
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir, page_ttl=0) as client:
        again = read_everything(client, source)
    paths = [r.path for r in server.requests]
    assert sorted(paths) == ["/simple/alpha/", "/simple/beta/", "/simple/gamma/"]
    assert again["beta-1.0-py3-none-any.whl"] == ()


def test_force_refresh_refetches_pages_but_not_metadata(index, tmp_cache_dir):
    server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        read_everything(client, source)
    server.add_dists([Dist("alpha", "2.0")])
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:  # within the TTL: the old page
        assert sorted(str(v) for v in client.project_page(source, "alpha").versions()) == ["1.0"]
    assert server.requests == []
    with IndexClient([source], tmp_cache_dir, force_refresh=True) as client:
        page = client.project_page(source, "alpha")
        assert sorted(str(v) for v in page.versions()) == ["1.0", "2.0"]
        old = next(link for link in page.files if link.filename == "alpha-1.0-py3-none-any.whl")
        assert client.metadata(old).source == "cache"
        # Fetched once per client even when forced.
        client.project_page(source, "alpha")
    assert [r.path for r in server.requests] == ["/simple/alpha/"]
    # The refreshed page is what the next, unforced client sees.
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:
        assert len(client.project_page(source, "alpha").versions()) == 2
    assert server.requests == []


def test_not_found_is_cached_for_the_ttl(index, tmp_cache_dir):
    server, source = index
    for _ in range(2):
        with IndexClient([source], tmp_cache_dir) as client, pytest.raises(PackageNotFound):
            client.project_page(source, "missing")
    assert [r.path for r in server.requests] == ["/simple/missing/"]
    with IndexClient([source], tmp_cache_dir, page_ttl=0) as client, pytest.raises(PackageNotFound):
        client.project_page(source, "missing")
    assert len(server.requests) == 2


def test_unavailable_metadata_of_a_file_is_remembered(package_index, tmp_cache_dir):
    server = package_index([Dist("dyn", "1.0", wheel=False, dynamic_deps=True)])
    source = IndexSource("main", server.url)
    for expected_file_requests in (1, 1):
        with IndexClient([source], tmp_cache_dir) as client:
            link = client.project_page(source, "dyn").files[0]
            with pytest.raises(MetadataUnavailable, match="dynamically"):
                client.metadata(link)
        assert len([r for r in server.requests if r.path.startswith("/files/")]) == expected_file_requests


def test_expired_page_is_used_when_the_index_is_down_unless_forced(index, tmp_cache_dir):
    server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        client.project_page(source, "alpha")
    server.stop()
    lines: list[str] = []
    with IndexClient([source], tmp_cache_dir, page_ttl=0, log=lines.append) as client:
        assert client.project_page(source, "alpha").files
    assert any("using the page of alpha cached" in line for line in lines)
    with IndexClient([source], tmp_cache_dir, force_refresh=True) as client, pytest.raises(IndexUnreachable):
        client.project_page(source, "alpha")


def test_cache_file_is_sqlite_in_wal_mode_with_pages_as_sent_and_their_layout(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        read_everything(client, source)
    conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        body, layout = conn.execute("SELECT body, layout FROM pages WHERE name = 'alpha'").fetchone()
        # The body is the index's own JSON; the layout says where each version's file entries are.
        filenames = [item["filename"] for item in json.loads(body)["files"]]
        spans = json.loads(layout)["versions"]
        assert "1.0" in spans
        for version, offsets in spans.items():
            entries = [json.loads(body[offsets[i] : offsets[i + 1]]) for i in range(0, len(offsets), 2)]
            assert entries and all(f"-{version}" in entry["filename"] for entry in entries)
        assert sum(len(offsets) // 2 for offsets in spans.values()) == len(filenames)
        keys = [row[0] for row in conn.execute("SELECT file_key FROM metadata")]
        assert keys and all(key.startswith("sha256:") for key in keys)
    finally:
        conn.close()


def test_threads_with_their_own_clients_share_one_cache(index, tmp_cache_dir):
    server, source = index
    results: list[dict] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with IndexClient([source], tmp_cache_dir, max_workers=4) as client:
                results.append(read_everything(client, source))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 6 and all(result == results[0] for result in results)
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:
        assert read_everything(client, source) == results[0]
    assert server.requests == []


PROCESS_SCRIPT = """
import json, sys
from adviser.index import IndexClient, IndexSource
source = IndexSource("main", sys.argv[1])
with IndexClient([source], sys.argv[2], max_workers=4) as client:
    client.prefetch_pages(["alpha", "beta", "gamma"])
    out = {}
    for name in ("alpha", "beta", "gamma"):
        for link in client.project_page(source, name).files:
            out[link.filename] = list(client.metadata(link).requires_dist)
print(json.dumps(out, sort_keys=True))
"""


def test_processes_share_one_cache(index, tmp_cache_dir):
    server, source = index
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_SCRIPT, server.url, str(tmp_cache_dir)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["alpha-1.0-py3-none-any.whl"] == ["beta>=1"]
    server.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:
        read_everything(client, source)
    assert server.requests == []


def test_damaged_cache_file_is_moved_aside_and_rebuilt(index, tmp_cache_dir):
    _server, source = index
    (tmp_cache_dir / CACHE_FILENAME).write_bytes(b"this is not an SQLite database" * 100)
    lines: list[str] = []
    with IndexClient([source], tmp_cache_dir, log=lines.append) as client:
        assert read_everything(client, source)["beta-1.0-py3-none-any.whl"] == ()
    assert any("was damaged" in line for line in lines)
    assert len(list(tmp_cache_dir.glob(f"{CACHE_FILENAME}.damaged-*"))) == 1
    with IndexClient([source], tmp_cache_dir) as client:
        read_everything(client, source)
        assert client.stats()["pages_cached"] == 3


def test_unusable_cache_directory_falls_back_to_memory(index, tmp_path):
    server, source = index
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    lines: list[str] = []
    with IndexClient([source], blocker / "cache", log=lines.append, max_workers=4) as client:
        first = read_everything(client, source)
        # Threads of the client share the memory cache: each page was fetched once.
        assert client.stats()["pages_fetched"] == 3
    assert first["alpha-1.0-py3-none-any.whl"] == ("beta>=1",)
    assert any("caching in memory for this run only" in line for line in lines)
    assert [r.path for r in server.requests].count("/simple/alpha/") == 1


def test_writes_happen_behind_the_callers_and_are_flushed(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        page = client.project_page(source, "alpha")
        client.metadata(next(link for link in page.files if link.is_wheel))
        client._cache.flush()  # what close() also does
        conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
        try:  # another connection (as another process would) sees both rows
            assert conn.execute("SELECT count(*) FROM pages WHERE name = 'alpha'").fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM metadata WHERE project = 'alpha'").fetchone()[0] == 1
        finally:
            conn.close()


def test_a_failing_cache_write_is_logged_not_raised(index, tmp_cache_dir):
    _server, source = index
    lines: list[str] = []
    with IndexClient([source], tmp_cache_dir, log=lines.append) as client:
        client.project_page(source, "beta")
        client._cache.flush()
        conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
        # The next batch fails inside its transaction (as with a full disk, say).
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON pages BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.close()
        client.project_page(source, "alpha")
        client._cache.flush()
        assert client.project_page(source, "alpha").files  # the run goes on
    assert any("cannot write" in line and "not kept" in line for line in lines)


ALPHA_1 = ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]


def test_a_stored_page_is_read_from_the_cache_file_and_follows_a_newer_fetch(index, tmp_cache_dir):
    """Once the cache holds a JSON page, an analysis keeps only where its entries lie and reads the
    versions it asks for from the file; another fetch that replaces the page is followed."""
    server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        page = client.project_page(source, "alpha")
        client._cache.flush()
        assert [link.filename for link in page.files_of(["1.0"])] == ALPHA_1
        server.add_dists([Dist("alpha", "2.0", sdist=False)])
        with IndexClient([source], tmp_cache_dir, force_refresh=True) as other:  # another analysis, later
            assert "2.0" in other.project_page(source, "alpha").version_texts()
        assert page.version_texts() == ["1.0"]  # what this analysis saw first stays
        # Entries are read from the page stored now: held in memory, the old page would not list 2.0.
        assert [link.filename for link in page.files] == [
            "alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "alpha-2.0-py3-none-any.whl"
        ]
        assert [link.filename for link in page.files_of(["1.0"])] == ALPHA_1


def test_a_warm_read_leaves_the_body_in_the_file_and_older_layouts_still_read(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        expected = client.project_page(source, "alpha").files
    with IndexClient([source], tmp_cache_dir) as client:
        cached = client.cache.get_page(source.url, "alpha")
        assert cached.body is None and cached.stored is not None
        assert client.project_page(source, "alpha").files == expected
    # A layout written before offsets were marked as bytes: the body is read whole, as it was then.
    conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
    layout = conn.execute("SELECT layout FROM pages WHERE name = 'alpha'").fetchone()[0]
    old = json.dumps({key: value for key, value in json.loads(layout).items() if key != "offsets"})
    with conn:
        conn.execute("UPDATE pages SET layout = ? WHERE name = 'alpha'", (old,))
    conn.close()
    with IndexClient([source], tmp_cache_dir) as client:
        cached = client.cache.get_page(source.url, "alpha")
        assert cached.body is not None and cached.stored is None
        assert client.project_page(source, "alpha").files == expected


def test_a_page_removed_from_the_cache_during_an_analysis_is_a_clear_error(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        page = client.project_page(source, "alpha")
        client._cache.flush()
        conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
        with conn:
            conn.execute("DELETE FROM pages WHERE name = 'alpha'")
        conn.close()
        with pytest.raises(IndexUnreachable, match="removed during the analysis; run again"):
            page.files_of(["1.0"])


def test_a_refetched_page_the_same_byte_for_byte_keeps_its_row_and_is_not_scanned_again(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        expected = client.project_page(source, "alpha").files
    conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
    query = "SELECT rowid, fetched_at, digest FROM pages WHERE name = 'alpha'"
    rowid, fetched_at, digest = conn.execute(query).fetchone()
    assert len(digest) == 64
    with IndexClient([source], tmp_cache_dir, force_refresh=True) as client:
        page = client.project_page(source, "alpha")
        before_the_touch = page.files_of(["1.0"])
        assert before_the_touch == [link for link in expected if "-1.0" in link.filename]
        client._cache.flush()
        assert page.files == expected  # read from the row as it is now
        stats = client.stats()
    assert stats["pages_fetched"] == 1 and stats["pages_unchanged"] == 1
    row = conn.execute(query).fetchone()
    assert row[0] == rowid and row[1] > fetched_at and row[2] == digest  # only its time of fetch changed
    conn.close()


def test_a_cache_of_version_5_gains_page_digests_and_keeps_its_pages(index, tmp_cache_dir):
    _server, source = index
    with IndexClient([source], tmp_cache_dir) as client:
        expected = client.project_page(source, "alpha").files
    conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
    with conn:
        conn.execute("ALTER TABLE pages DROP COLUMN digest")
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    with IndexClient([source], tmp_cache_dir) as client:
        assert client.project_page(source, "alpha").files == expected
        assert client.stats().get("pages_fetched", 0) == 0  # still fresh: kept through the upgrade
    conn = sqlite3.connect(tmp_cache_dir / CACHE_FILENAME)
    assert conn.execute("SELECT digest FROM pages WHERE name = 'alpha'").fetchone() == (None,)
    conn.close()
