"""A [[source]] written with ${VAR} credentials: the adviser reaches the index with the expansion the
client sent (HTTP basic authentication), and keeps the written URL everywhere else."""

from __future__ import annotations

import json
import sqlite3

import pytest

from adviser import AdviserSettings, advise
from adviser.index.http import HttpSession
from tests.adviser.engine_support import LINUX_311, pipfile, product
from tests.support.index_server import SAMPLE_DISTS

USER, PASSWORD = "deploy-robot", "s3cret-Pa55word"


@pytest.fixture
def private(package_index):
    return package_index(SAMPLE_DISTS, basic_auth=(USER, PASSWORD))


def _urls(index, user: str = USER, password: str = PASSWORD) -> tuple[str, str]:
    written = index.url.replace("http://", "http://${PRIV_USER}:${PRIV_PASS}@")
    return written, index.url.replace("http://", f"http://{user}:{password}@")


def _advise(index, cache, expanded: str | None, lines: list[str] | None = None) -> dict:
    written, _ = _urls(index)
    request = {
        "application_stack": {"requirements": pipfile([("private", written)], 'webapp-framework = "*"')},
        "runtime_environment": LINUX_311,
    }
    if expanded is not None:
        request["expanded_sources"] = [{"url": written, "expanded_url": expanded}]
    return advise(request, AdviserSettings(cache_dir=cache), log=lines.append if lines is not None else None)


def test_expanded_credentials_reach_the_index_and_nothing_else(private, tmp_cache_dir) -> None:
    written, expanded = _urls(private)
    lines: list[str] = []
    document = _advise(private, tmp_cache_dir, expanded, lines)
    lock = product(document)["project"]["requirements_locked"]
    assert lock["_meta"]["sources"][0]["url"] == written
    assert lock["default"]["webapp-framework"]["index"] == "private"
    everything = json.dumps(document) + "\n".join(lines)
    assert PASSWORD not in everything and USER not in everything
    with sqlite3.connect(tmp_cache_dir / "index-cache.sqlite3") as db:
        dump = "\n".join(db.iterdump())
    assert PASSWORD not in dump and USER not in dump
    # Pages of a private index are never cached: the next analysis proves its access again.
    private.clear_requests()
    assert _advise(private, tmp_cache_dir, expanded)["error"] is False
    assert any(request.path.startswith("/simple/webapp-framework") for request in private.requests)


def test_placeholder_without_expansion_or_with_wrong_credentials(private, tmp_cache_dir) -> None:
    missing = _advise(private, tmp_cache_dir, None)
    assert missing["error"] and "uses the environment variable PRIV_USER" in missing["error_msg"]
    _, wrong = _urls(private, password="not-the-password")
    refused = _advise(private, tmp_cache_dir, wrong)
    assert refused["error"] and "HTTP 401" in refused["error_msg"] and "refused the credentials" in refused["error_msg"]
    assert "not-the-password" not in json.dumps(refused)


def test_credentials_stay_with_their_host(private, package_index) -> None:
    # Another host with the same credentials: they are never sent there (another port, another host).
    other = package_index(SAMPLE_DISTS, name="other", basic_auth=(USER, PASSWORD))
    session = HttpSession()
    session.add_credentials(private.url.replace("http://", f"http://{USER}:{PASSWORD}@"))
    assert session.get(private.project_url("signals")).status == 200
    assert session.get(other.project_url("signals")).status == 401
    answer = session.get(private.url.replace("http://", f"http://{USER}:wrong@") + "signals/")
    assert answer.status == 401 and "wrong" not in answer.url and USER not in answer.url
