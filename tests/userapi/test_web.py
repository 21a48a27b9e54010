"""The web view over HTTP (no browser): pages, addresses, downloads, diff, list, escaping, token.

Analyses are advised through the real server against the sample index, or stored beforehand in
the server's own analyses database (for a document no resolution produces, such as a
justification message with markup in it).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adviser import wire
from tests.userapi.conftest import advise_body, request, wait_for_document
from userapi.store import Store

TOKEN = "web-view-token-5c1e"
HTML = {"Accept": "text/html"}
EVIL = '<script>document.title="owned"</script>'


def advise(server, packages: dict[str, str] | None = None, index_url: str = "", headers=None) -> str:
    status, _, body = request(
        "POST", server.api_url + "/advise/python?force=true", advise_body(index_url, packages), headers=headers
    )
    assert status == 202, body
    wait_for_document(server.api_url, "/advise/python", body["analysis_id"], headers=headers)
    return body["analysis_id"]


def store_analysis(data_dir: Path, justification: list[dict], names: list[str], *, state: str = "succeeded") -> str:
    """Put one finished adviser analysis straight into a server's database (before it starts)."""
    store = Store(data_dir / "analyses.db")
    try:
        parameters = {"recommendation_type": "stable", "runtime_environment": {"python_version": "3.11"}}
        analysis = store.create("adviser", {"application_stack": {}}, parameters)
        attempt = store.start_attempt(analysis.id)
        store.append_log(analysis.id, attempt, f"a log line with {EVIL}")
        locked = {"_meta": {"sources": []}, "default": {n: {"version": "==1.0", "hashes": ["sha256:aa"]} for n in names},
                  "develop": {}}
        project = wire.project_def({"packages": {names[0]: "*"}}, locked, {"python_version": "3.11"}, [])
        edges = [[0, i] for i in range(1, len(names))]
        report = wire.adviser_report([wire.product(project, 1.0, justification, names, edges)], [], {}, 1)
        outcome = wire.result(parameters, report)
        meta = wire.metadata(analysis.id, "adviser", parameters, datetime.now(timezone.utc))
        document = wire.analysis_document("adviser", analysis.id, {}, meta, outcome)
        store.finish(analysis.id, attempt, succeeded=state == "succeeded", result=document)
        return analysis.id
    finally:
        store.close()


def test_the_search_ui_header_is_the_view_base_and_an_analysis_lives_under_it(shared_server, sample_index):
    _, headers, _ = request("HEAD", shared_server.api_url + "/")
    base = headers["x-thoth-search-ui-url"]
    assert urlsplit(base).path == "/web/"
    analysis_id = advise(shared_server, index_url=sample_index.url)
    status, _, page = request("GET", f"{base}advise/{analysis_id}", headers=HTML)
    assert status == 200
    assert analysis_id in page and 'id="state"' in page and ">finished<" in page
    assert re.search(r"<td>webapp-framework</td><td>2\.1</td><td>main</td><td>default</td>", page)
    assert "Recommendation type" in page and "thamos-rules" in page  # the rule set
    assert 'id="graph-data"' in page and 'id="justification"' in page


def test_the_lock_files_download_as_rendered_from_the_analysis(shared_server, sample_index):
    analysis_id = advise(shared_server, index_url=sample_index.url)
    document = wait_for_document(shared_server.api_url, "/advise/python", analysis_id)
    locked = document["result"]["report"]["products"][0]["project"]["requirements_locked"]
    status, headers, body = request("GET", f"{shared_server.base_url}/web/advise/{analysis_id}/Pipfile.lock")
    assert status == 200 and body == locked
    assert headers["content-disposition"] == 'attachment; filename="Pipfile.lock"'
    status, _, text = request("GET", f"{shared_server.base_url}/web/advise/{analysis_id}/requirements.txt")
    assert status == 200 and "webapp-framework==2.1" in text and "--hash=sha256:" in text


def test_diff_of_two_analyses_is_the_thamos_diff_table(shared_server, sample_index):
    newer = advise(shared_server, {"webapp-framework": "*"}, sample_index.url)
    older = advise(shared_server, {"webapp-framework": "==1.0"}, sample_index.url)
    status, _, page = request("GET", f"{shared_server.base_url}/web/diff?base={newer}&other={older}", headers=HTML)
    assert status == 200
    assert re.search(r"<td>webapp-framework</td><td>downgraded</td><td>2\.1</td><td>1\.0</td>", page)
    assert "different projects" not in page
    # The analysis page offers the other analyses to compare with.
    _, _, page = request("GET", f"{shared_server.base_url}/web/advise/{older}", headers=HTML)
    assert f'<option value="{newer}">' in page and f'<option value="{older}">' not in page
    status, _, page = request("GET", f"{shared_server.base_url}/web/diff?base={newer}&other=nope", headers=HTML)
    assert status == 404 and "&#39;nope&#39; is not the id" in page


def test_a_provenance_check_has_its_page(shared_server, sample_index):
    body = advise_body(sample_index.url)["application_stack"]
    analysis_id = advise(shared_server, index_url=sample_index.url)
    document = wait_for_document(shared_server.api_url, "/advise/python", analysis_id)
    body["requirements_lock"] = json.dumps(document["result"]["report"]["products"][0]["project"]["requirements_locked"])
    status, _, answer = request("POST", shared_server.api_url + "/provenance/python", {"application_stack": body})
    assert status == 202
    check_id = answer["analysis_id"]
    wait_for_document(shared_server.api_url, "/provenance/python", check_id)
    status, _, page = request("GET", f"{shared_server.base_url}/web/provenance/{check_id}", headers=HTML)
    assert status == 200 and "Provenance check" in page and "<td>webapp-framework</td>" in page
    # An adviser id under the provenance address is not found, whatever it is.
    assert request("GET", f"{shared_server.base_url}/web/provenance/{analysis_id}", headers=HTML)[0] == 404


def test_markup_from_a_document_is_shown_as_text(start_server, tmp_path):
    data_dir = tmp_path / "data-evil"
    justification = [wire.report_item("WARNING", f"bad news {EVIL}", "javascript:alert(1)", "first")]
    analysis_id = store_analysis(data_dir, justification, ["first", "second"])
    server = start_server(data_dir=data_dir)
    status, headers, page = request("GET", f"{server.base_url}/web/advise/{analysis_id}", headers=HTML)
    assert status == 200
    assert "<script>document.title" not in page
    assert "bad news &lt;script&gt;document.title=&#34;owned&#34;&lt;/script&gt;" in page
    assert "a log line with &lt;script&gt;" in page
    assert 'href="javascript:' not in page  # only http(s) links are links
    assert "\\u003cscript\\u003e" in page  # inside the graph's JSON too
    assert "script-src 'self'" in headers["content-security-policy"]


def test_the_list_is_newest_first_and_paged(start_server, tmp_path):
    data_dir = tmp_path / "data-list"
    store = Store(data_dir / "analyses.db")
    created = []
    for number in range(30):
        analysis = store.create("adviser", {"n": number}, {}, now=1_700_000_000 + number)
        store.fail(analysis.id, f"seeded failure {number}")
        created.append(analysis.id)
    store.close()
    server = start_server(data_dir=data_dir)
    status, _, first = request("GET", f"{server.base_url}/web/", headers=HTML)
    assert status == 200 and "30 analyses" in first and "Page 1 of 2" in first
    shown = re.findall(r'href="/web/advise/(adviser-[0-9a-f-]+)"', first)
    assert shown == list(reversed(created))[:25]
    assert "seeded failure 29" in first and ">failed<" in first
    _, _, second = request("GET", f"{server.base_url}/web/?page=2", headers=HTML)
    assert re.findall(r'href="/web/advise/(adviser-[0-9a-f-]+)"', second) == list(reversed(created))[25:]
    assert request("GET", f"{server.base_url}/web/?page=x", headers=HTML)[0] == 200
    # A page number past any SQL offset is the (empty) last page, not a server error.
    assert request("GET", f"{server.base_url}/web/?page={10**30}", headers=HTML)[0] == 200


def test_container_images_have_a_page_and_unknown_things_answer_404(shared_server):
    status, _, page = request("GET", f"{shared_server.base_url}/web/image/python-3.11-slim", headers=HTML)
    assert status == 200 and "3.11-slim-bookworm" in page
    status, _, page = request("GET", f"{shared_server.base_url}/web/image/%3Cb%3Enone", headers=HTML)
    assert status == 404 and "&lt;b&gt;none" in page
    unknown = "adviser-200101000000-0123456789abcdef"
    status, _, page = request("GET", f"{shared_server.base_url}/web/advise/{unknown}", headers=HTML)
    assert status == 404 and f"no analysis with id {unknown}" in page
    assert request("GET", f"{shared_server.base_url}/web/static/..%2F..%2Fapp.py")[0] == 404
    assert request("GET", f"{shared_server.base_url}/web/static/vendor/cytoscape.LICENSE")[0] == 404
    status, headers, _ = request("GET", f"{shared_server.base_url}/web/static/graph.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")


@pytest.fixture
def token_server(start_server, sample_index):
    return start_server("--token", TOKEN, index_url=sample_index.url)


def test_with_a_token_nothing_is_shown_without_it(token_server, sample_index):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    analysis_id = advise(token_server, index_url=sample_index.url, headers=bearer)
    base = f"{token_server.base_url}/web/"
    for path in ("", f"advise/{analysis_id}", f"advise/{analysis_id}/state", f"advise/{analysis_id}/Pipfile.lock",
                 f"diff?base={analysis_id}&other={analysis_id}", "image/python-3.11-slim"):
        status, headers, body = request("GET", base + path)
        assert status == 401 and headers["www-authenticate"] == "Bearer", path
        assert analysis_id not in json.dumps(body)
        status, headers, _ = request("GET", base + path, headers=HTML)
        assert status == 303 and headers["location"].startswith("/web/login?next=%2Fweb%2F"), path
        assert request("GET", base + path, headers={**HTML, "Cookie": "thamos_web=forged"})[0] == 303
        assert request("GET", base + path, headers={**HTML, **bearer})[0] == 200, path


def test_logging_in_sets_an_http_only_same_site_cookie(token_server):
    base = f"{token_server.base_url}/web/"
    form = {"Content-Type": "application/x-www-form-urlencoded", **HTML}
    status, _, page = request("POST", base + "login", headers=form, raw_body=b"token=wrong&next=%2Fweb%2F")
    assert status == 401 and "not valid" in page
    status, headers, _ = request(
        "POST", base + "login", headers=form, raw_body=f"token={TOKEN}&next=https%3A%2F%2Felsewhere%2F".encode()
    )
    assert status == 303 and headers["location"] == "/web/"  # never to another site
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "Path=/web/" in cookie
    assert TOKEN not in cookie
    session = cookie.split(";", 1)[0]
    assert request("GET", base, headers={**HTML, "Cookie": session})[0] == 200
    status, headers, _ = request("POST", base + "logout", headers={**form, "Cookie": session}, raw_body=b"")
    assert status == 303 and 'thamos_web=""' in headers["set-cookie"]


def test_a_failed_analysis_says_why_in_plain_words(shared_server, sample_index):
    status, _, body = request(
        "POST", shared_server.api_url + "/advise/python?force=true",
        advise_body(sample_index.url, {"no-such-project": "*"}),
    )
    assert status == 202
    document = wait_for_document(shared_server.api_url, "/advise/python", body["analysis_id"])
    assert document["result"]["error"] is True
    status, _, page = request("GET", f"{shared_server.base_url}/web/advise/{body['analysis_id']}", headers=HTML)
    assert status == 200 and "The analysis failed" in page and ">failed<" in page
    assert "no-such-project" in page.split('id="error"', 1)[1].split("</div>", 1)[0]
    assert 'id="graph-data"' not in page and "Pipfile.lock</a>" not in page


def test_the_graph_marks_direct_packages_remarks_and_conditional_edges():
    from userapi.web.graph import graph_of, requires_table

    locked = {
        "default": {
            "app-core": {"version": "==2.0", "hashes": []},
            "helper": {"version": "==1.0", "hashes": [], "markers": 'python_version < "3.12"'},
            "Old_Lib": {"version": "==0.9", "hashes": []},
        },
        "develop": {},
    }
    project = wire.project_def({"packages": {"App_Core": "*"}}, locked, {}, [])
    justification = [
        wire.report_item("WARNING", "old-lib 0.9 is yanked", package="old-lib"),
        wire.report_item("INFO", "old-lib fits", package="old-lib"),
        wire.report_item("ERROR", "helper is affected by an advisory", "https://advisories.example/1", "helper"),
    ]
    product = wire.product(project, 1.0, justification, ["app-core", "helper", "old-lib"], [[0, 1], [0, 2], [5, 0]])
    picture = graph_of({"result": wire.result({}, wire.adviser_report([product], [], {}, 1))})
    nodes = {node["name"]: node for node in picture["nodes"]}
    assert nodes["app-core"]["direct"] and not nodes["helper"]["direct"]
    assert (nodes["old-lib"]["level"], nodes["helper"]["level"], nodes["app-core"]["level"]) == ("WARNING", "ERROR", "")
    assert nodes["old-lib"]["version"] == "0.9" and len(nodes["old-lib"]["justification"]) == 2
    assert picture["edges"] == [
        {"id": "e0-1", "source": "n0", "target": "n1", "markers": 'python_version < "3.12"'},
        {"id": "e0-2", "source": "n0", "target": "n2", "markers": ""},
    ]  # the edge naming a node that does not exist is left out
    assert requires_table(picture)[0] == {
        "name": "app-core", "direct": True, "level": "", "requires": ['helper ; python_version < "3.12"', "old-lib"],
    }
