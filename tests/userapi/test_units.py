"""Pieces of the server on their own: the store (a real SQLite file and a real PostgreSQL
database, the same tests for both), the contract check, query normalisation and settings."""

from __future__ import annotations

import pytest

from adviser.wire import error_result
from userapi.contract import contract_violation
from userapi.middleware import normalize_query
from userapi.settings import SettingsError, load_settings
from userapi.store import Store, is_analysis_id, new_analysis_id, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """Each store test runs against both implementations of the one interface."""
    if request.param == "sqlite":
        opened = open_store(tmp_path / "analyses.db")
    else:
        opened = open_store(request.getfixturevalue("postgres_url"))
    assert opened.backend == request.param
    yield opened
    opened.close()


def test_ids_have_the_thoth_shape():
    adviser_id = new_analysis_id("adviser")
    assert is_analysis_id(adviser_id, "adviser") and not is_analysis_id(adviser_id, "provenance-checker")
    assert is_analysis_id(new_analysis_id("provenance-checker"), "provenance-checker")
    assert not is_analysis_id("adviser-1-2") and not is_analysis_id("adviser-../../x")


def test_an_analysis_finished_twice_keeps_the_first_result(store):
    analysis = store.create("adviser", {"a": 1}, {"dev": False})
    first = store.start_attempt(analysis.id)
    assert first == 1 and store.start_attempt(analysis.id) is None  # already running
    assert store.requeue_unfinished() == ([analysis.id], [])
    second = store.start_attempt(analysis.id)
    assert second == 2
    # The run thought lost comes back and finishes first: its result stays, the rerun's is refused.
    assert store.finish(analysis.id, first, succeeded=True, result={"first": True}) is True
    assert store.finish(analysis.id, second, succeeded=False, result={"second": True}) is False
    done = store.get(analysis.id)
    assert done.state == "succeeded" and done.result == {"first": True} and done.attempts == 2
    assert store.requeue(analysis.id) is None  # finished: nothing to run again


def test_requeue_one_analysis_until_its_attempts_are_spent(store):
    analysis = store.create("adviser", {}, {})
    assert store.requeue(analysis.id) is None  # pending, not running
    outcomes = []
    for _ in range(3):
        assert store.start_attempt(analysis.id) is not None
        outcomes.append(store.requeue(analysis.id, max_attempts=3))
    assert outcomes == ["requeued", "requeued", "given up"]
    store.fail(analysis.id, "interrupted three times")
    failed = store.get(analysis.id)
    assert failed.state == "failed" and failed.reason == "interrupted three times"


def test_listings_and_counts(store):
    first = store.create("adviser", {"n": 1}, {}, now=1000.0)
    second = store.create("provenance-checker", {"n": 2}, {}, now=2000.0)
    assert store.count_unfinished() == 2 and store.ids_in_state("pending") == [first.id, second.id]
    rows, total = store.recent(10)
    assert total == 2 and [row["id"] for row in rows] == [second.id, first.id]
    rows, total = store.recent(10, kind="adviser")
    assert total == 1 and rows[0]["state"] == "pending" and rows[0]["created_at"] == 1000.0
    assert store.recent(10, offset=2) == ([], 2)
    store.ping()


def test_requeue_gives_up_after_max_attempts(store):
    analysis = store.create("adviser", {}, {})
    for _ in range(3):
        store.start_attempt(analysis.id)
        requeued, given_up = store.requeue_unfinished(max_attempts=3)
    assert given_up == [analysis.id] and requeued == []


def test_reuse_only_identical_unfailed_recent_analyses(store):
    first = store.create(
        "adviser", {"x": 1}, {"force": False, "type": "stable"}, cache_key={"type": "stable"}
    )
    assert store.find_reusable("adviser", {"x": 1}, {"type": "stable"}, max_age=60).id == first.id
    assert store.find_reusable("adviser", {"x": 2}, {"type": "stable"}, max_age=60) is None
    assert store.find_reusable("adviser", {"x": 1}, {"type": "latest"}, max_age=60) is None
    assert store.find_reusable("provenance-checker", {"x": 1}, {"type": "stable"}, max_age=60) is None
    assert store.find_reusable("adviser", {"x": 1}, {"type": "stable"}, max_age=0) is None
    store.fail(first.id, "broken")
    assert store.find_reusable("adviser", {"x": 1}, {"type": "stable"}, max_age=60) is None


def test_log_lines_keep_their_order(store):
    analysis = store.create("adviser", {}, {})
    attempt = store.start_attempt(analysis.id)
    for number in range(5):
        store.append_log(analysis.id, attempt, f"line {number}")
    assert store.log_text(analysis.id) == "".join(f"line {n}\n" for n in range(5))


def test_store_refuses_a_file_that_is_not_a_database(tmp_path):
    from userapi.store import StoreError

    bogus = tmp_path / "analyses.db"
    bogus.write_text("this is not SQLite " * 100)
    with pytest.raises(StoreError, match="analyses database"):
        Store(bogus)


def test_error_documents_keep_the_contract():
    for kind in ("adviser", "provenance-checker"):
        document = {"metadata": {"document_id": "x"}, "result": error_result(kind, {}, "it broke")}
        assert contract_violation(kind, document) is None


def test_contract_violation_names_the_place():
    broken = {"result": {"error": False, "report": {"products": [{"score": None}], "stack_info": []}}}
    violation = contract_violation("adviser", broken)
    assert violation is not None and violation.startswith("result/report/products/0")


def _connexion_violation(kind: str, document: dict) -> bool:
    """Whether connexion, which validates the server's answers, refuses the document."""
    from connexion.json_schema import Draft4ResponseValidator, resolve_refs

    from userapi.contract import DOCUMENT_SCHEMAS
    from userapi.spec import load_spec

    schema = resolve_refs(load_spec())["components"]["schemas"][DOCUMENT_SCHEMAS[kind]]
    return any(True for _ in Draft4ResponseValidator(schema).iter_errors(document))


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (lambda doc: None, False),
        (lambda doc: doc["metadata"].update(duration=None), False),  # nullable
        (lambda doc: doc["metadata"].update(duration="slow"), True),
        (lambda doc: doc["result"].update(error=None), True),  # not nullable
        (lambda doc: doc["result"]["report"]["products"][0].update(score=None), True),
        (lambda doc: doc["result"]["report"].update(stack_info=[{"type": "NOTE", "message": "x"}]), True),
        (lambda doc: doc.pop("result"), True),
    ],
)
def test_the_worker_check_agrees_with_the_servers_validation(change, refused):
    from adviser import wire
    from tests.spec.test_wire import REQUEST, adviser_result, metadata

    document = wire.analysis_document(
        wire.ADVISER, "adviser-x", REQUEST, metadata("adviser-x", wire.ADVISER), adviser_result()
    )
    change(document)
    assert (contract_violation("adviser", document) is not None) is refused
    assert _connexion_violation("adviser", document) is refused


def test_thoth_1x_query_values_are_normalised():
    assert (
        normalize_query(b"dev=False&force=True&origin=None&count=None&page=2")
        == b"dev=false&force=true&page=2"
    )
    assert normalize_query(b"name=None-such") == b"name=None-such"


def test_settings_from_environment_and_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("THAMOS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("THAMOS_SERVER_WORKERS", "3")
    monkeypatch.setenv("THAMOS_KNOWN_INDEXES", "extra=http://127.0.0.1:1/simple/,http://127.0.0.1:2/simple/")
    settings = load_settings(port=1234, token=None)
    assert settings.port == 1234 and settings.workers == 3 and settings.token is None
    assert settings.database == tmp_path / "d" / "analyses.db"
    assert [index.name for index in settings.known_indexes] == ["extra", "127-0-0-1"]
    monkeypatch.setenv("THAMOS_SERVER_PORT", "many")
    with pytest.raises(SettingsError, match="port must be a whole number"):
        load_settings()


def test_verify_ssl_of_an_index_in_the_settings_file_is_a_yes_no_word(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text(
        "known_indexes:\n  - {url: 'http://127.0.0.1:1/simple/', verify_ssl: 'off'}\n"
        "  - {url: 'http://127.0.0.1:2/simple/', verify_ssl: no}\n  - {url: 'http://127.0.0.1:3/simple/'}\n"
    )
    assert [index.verify_ssl for index in load_settings(path).known_indexes] == [False, False, True]
    path.write_text("known_indexes:\n  - {url: 'http://127.0.0.1:1/simple/', verify_ssl: 'sometimes'}\n")
    with pytest.raises(SettingsError, match="^known_indexes verify_ssl must be one of .*, not 'sometimes'$"):
        load_settings(path)


def test_index_aliases_from_the_environment_reach_the_adviser(monkeypatch):
    from userapi.jobs import build_adviser_settings

    monkeypatch.setenv(
        "THAMOS_INDEX_ALIASES", "http://127.0.0.1:1/simple=http://127.0.0.1:2/simple/, http://a.invalid/=http://b.invalid/"
    )
    settings = load_settings()
    aliases = {"http://127.0.0.1:1/simple/": "http://127.0.0.1:2/simple/", "http://a.invalid/": "http://b.invalid/"}
    assert dict(settings.index_aliases) == aliases
    assert build_adviser_settings(settings.adviser_options()).index_aliases == aliases
    monkeypatch.setenv("THAMOS_INDEX_ALIASES", "http://127.0.0.1:1/simple/")
    with pytest.raises(SettingsError, match="index_aliases: .* is not of the form alias_url=canonical_url"):
        load_settings()


def test_an_analysis_nobody_will_finish_fails_with_a_readable_error_document(store):
    from userapi.jobs import fail_if_unfinished

    analysis = store.create("adviser", {"application_stack": {}}, {"recommendation_type": "stable"})
    fail_if_unfinished(store, analysis.id, "the analysis could not be queued: the queue does not answer")
    failed = store.get(analysis.id)
    # A result document is stored with the failure, so clients get 200 and the reason, not 202 forever.
    assert failed.state == "failed" and failed.result is not None
    assert failed.result["result"]["error"] is True
    assert "could not be queued" in failed.result["result"]["error_msg"]
    fail_if_unfinished(store, analysis.id, "again")  # finished: left as it is
    assert store.get(analysis.id).reason == failed.reason


def test_held_result_requests_end_when_their_analysis_is_stored_with_one_look_for_all(store):
    import asyncio
    import threading
    import time

    from userapi.long_poll import FinishWatch

    slow, never, quick = (store.create("adviser", {"n": n}, {}) for n in range(3))
    for analysis in (slow, never, quick):
        store.start_attempt(analysis.id)
    store.finish(quick.id, 1, succeeded=True, result={"done": True})
    looks: list[int] = []

    def finished_among(ids):
        looks.append(len(ids))
        return store.finished_among(ids)

    watch = FinishWatch(finished_among)
    stored_at: list[float] = []

    def finish_slow_later():
        time.sleep(0.5)
        store.finish(slow.id, 1, succeeded=False, result={"error": True}, reason="no")
        stored_at.append(time.monotonic())

    async def held(analysis_id, timeout):
        await watch.wait(analysis_id, timeout)
        return time.monotonic()

    async def scenario():
        started = time.monotonic()
        threading.Thread(target=finish_slow_later).start()
        waits = [held(slow.id, 10), held(slow.id, 10), held(never.id, 1.0), held(quick.id, 10)]
        ended = await asyncio.gather(*waits)
        return started, ended

    started, (slow_one, slow_two, never_ended, quick_ended) = asyncio.run(scenario())
    assert quick_ended - started < 0.3  # stored before the wait began: the first look ends it
    assert 0 <= slow_one - stored_at[0] < 0.25 and 0 <= slow_two - stored_at[0] < 0.25
    assert never_ended - started >= 1.0  # never stored: the wait runs out
    assert store.finished_among([slow.id, never.id, quick.id]) == {slow.id, quick.id}
    assert max(looks) <= 3  # one query a look for every held request (two held the same analysis)


def test_the_forkserver_preload_leaves_a_workers_first_analysis_nothing_to_import():
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, pkgutil, adviser, stackfiles\n"
        "import userapi.preloaded\n"
        "from adviser.index import http\n"
        "names = [m.name for p in (adviser, stackfiles) for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]\n"
        "print(json.dumps({'modules': len(names), 'missing': [n for n in names if n not in sys.modules],"
        " 'certificates_loaded': None in http._contexts}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["modules"] > 40 and found["missing"] == [] and found["certificates_loaded"] is True
