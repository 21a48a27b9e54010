"""The simple API pages: PEP 691 JSON and PEP 503 HTML, redirects, 404, content negotiation."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.index.helpers import HTML_TYPE, JSON_TYPE, PIP_ACCEPT, fetch, html_links, json_page, resolve
from tests.support.index_server import Dist

UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_json_root_lists_every_normalized_project(sample_index):
    document = json_page(sample_index.url)
    assert document["meta"] == {"api-version": "1.1"}
    names = [project["name"] for project in document["projects"]]
    assert names == sorted(names)
    assert set(names) == {dist.normalized_name for dist in sample_index.dists}
    assert "data-tools" in names and "Data_Tools" not in names


def test_html_root_links_to_project_pages(sample_index):
    answer = fetch(sample_index.url)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    links, meta = html_links(answer.body.decode())
    assert meta["pypi:repository-version"] == "1.1"
    assert {link["text"] for link in links} == set(sample_index.projects())
    for link in links:
        assert resolve(sample_index.url, link["href"]) == sample_index.project_url(link["text"])


def test_json_project_page_lists_the_right_files_with_true_hashes(sample_index):
    page_url = sample_index.project_url("webapp-framework")
    document = json_page(page_url)
    assert document["meta"]["api-version"] == "1.1"
    assert document["name"] == "webapp-framework"
    assert document["versions"] == ["1.0", "2.0", "2.1"]
    expected = {
        f"webapp_framework-{version}{suffix}"
        for version in ("1.0", "2.0", "2.1")
        for suffix in ("-py3-none-any.whl", ".tar.gz")
    }
    assert {entry["filename"] for entry in document["files"]} == expected
    for entry in document["files"]:
        body = fetch(resolve(page_url, entry["url"])).body
        assert entry["hashes"] == {"sha256": hashlib.sha256(body).hexdigest()}
        assert entry["size"] == len(body)
        assert UPLOAD_TIME.match(entry["upload-time"])
        assert entry["yanked"] is False
        assert set(entry) >= {"requires-python", "core-metadata", "dist-info-metadata"}


def test_html_project_page_lists_the_same_files_with_true_hashes(sample_index):
    page_url = sample_index.project_url("templating")
    answer = fetch(page_url)
    assert answer.status == 200
    links, meta = html_links(answer.body.decode())
    assert meta["pypi:repository-version"] == "1.1"
    json_files = {entry["filename"]: entry for entry in json_page(page_url)["files"]}
    assert {link["text"] for link in links} == set(json_files)
    for link in links:
        href = link["href"] or ""
        url, _, fragment = href.partition("#")
        body = fetch(resolve(page_url, url)).body
        assert fragment == "sha256=" + hashlib.sha256(body).hexdigest()
        assert fragment == "sha256=" + json_files[link["text"]]["hashes"]["sha256"]


def test_prerelease_appears_in_versions_and_files(sample_index):
    document = json_page(sample_index.project_url("templating"))
    assert document["versions"] == ["2.0", "3.0", "3.1rc1"]
    assert "templating-3.1rc1-py3-none-any.whl" in {entry["filename"] for entry in document["files"]}


def test_yanked_and_requires_python_in_both_formats(sample_index):
    signals_json = {e["filename"]: e for e in json_page(sample_index.project_url("signals"))["files"]}
    assert signals_json["signals-1.2-py3-none-any.whl"]["yanked"] == "dispatch broken, use 1.1"
    assert signals_json["signals-1.2.tar.gz"]["yanked"] == "dispatch broken, use 1.1"
    assert signals_json["signals-1.1-py3-none-any.whl"]["yanked"] is False

    links, _ = html_links(fetch(sample_index.project_url("signals")).body.decode())
    by_name = {link["text"]: link for link in links}
    assert by_name["signals-1.2-py3-none-any.whl"]["data-yanked"] == "dispatch broken, use 1.1"
    assert "data-yanked" not in by_name["signals-1.1-py3-none-any.whl"]

    client_json = {e["filename"]: e for e in json_page(sample_index.project_url("http-client"))["files"]}
    assert client_json["http_client-1.2-py3-none-any.whl"]["requires-python"] == ">=3.12"
    assert client_json["http_client-1.1-py3-none-any.whl"]["requires-python"] is None

    raw_html = fetch(sample_index.project_url("http-client")).body.decode()
    assert 'data-requires-python="&gt;=3.12"' in raw_html  # escaped on the wire
    links, _ = html_links(raw_html)
    by_name = {link["text"]: link for link in links}
    assert by_name["http_client-1.2.tar.gz"]["data-requires-python"] == ">=3.12"
    assert "data-requires-python" not in by_name["http_client-1.1.tar.gz"]


def test_yanked_without_reason(package_index):
    server = package_index([Dist("gone", "1.0", yanked=True)])
    entry = json_page(server.project_url("gone"))["files"][0]
    assert entry["yanked"] is True
    links, _ = html_links(fetch(server.project_url("gone")).body.decode())
    assert all(link["data-yanked"] == "" for link in links)


def test_upload_times_are_older_for_older_versions_unless_given(package_index):
    server = package_index(
        [
            Dist("aged", "2.0"),
            Dist("aged", "1.0"),
            Dist("aged", "1.5", upload_time="2024-05-06T07:08:09Z"),
        ]
    )
    times = {e["filename"]: e["upload-time"] for e in json_page(server.project_url("aged"))["files"]}
    assert times["aged-1.0-py3-none-any.whl"] < times["aged-2.0-py3-none-any.whl"]
    assert times["aged-1.5-py3-none-any.whl"] == "2024-05-06T07:08:09Z"
    assert times["aged-1.5.tar.gz"] == "2024-05-06T07:08:09Z"


def test_pip_style_accept_header_gets_json(sample_index):
    answer = fetch(sample_index.project_url("signals"), headers={"Accept": PIP_ACCEPT})
    assert answer.headers["Content-Type"] == JSON_TYPE
    assert answer.headers["Vary"] == "Accept"
    assert answer.json()["name"] == "signals"


def test_explicit_html_type_is_echoed(sample_index):
    answer = fetch(sample_index.project_url("signals"), headers={"Accept": HTML_TYPE})
    assert answer.headers["Content-Type"] == HTML_TYPE
    assert b"signals-1.0.tar.gz" in answer.body


@pytest.mark.parametrize(
    ("requested", "location"),
    [
        ("Data_Tools/", "/simple/data-tools/"),
        ("DATA.tools/", "/simple/data-tools/"),
        ("Webapp_Framework/", "/simple/webapp-framework/"),
        ("signals", "/simple/signals/"),
    ],
)
def test_non_normalized_names_redirect(sample_index, requested, location):
    answer = fetch(sample_index.url + requested, headers={"Accept": JSON_TYPE})
    assert answer.status == 301
    assert answer.headers["Location"] == location
    assert answer.headers["Content-Length"] == "0"


def test_unknown_project_and_path_are_404(sample_index):
    assert fetch(sample_index.project_url("no-such-project")).status == 404
    assert fetch(sample_index.project_url("no-such-project"), headers={"Accept": JSON_TYPE}).status == 404
    assert fetch(sample_index.base_url + "/elsewhere").status == 404
    assert fetch(sample_index.base_url + "/files/signals/missing.whl").status == 404


def test_head_on_a_page_has_length_but_no_body(sample_index):
    full = fetch(sample_index.project_url("signals"), headers={"Accept": JSON_TYPE})
    head = fetch(sample_index.project_url("signals"), method="HEAD", headers={"Accept": JSON_TYPE})
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(full.body))


def test_etag_revalidation(sample_index):
    first = fetch(sample_index.project_url("signals"), headers={"Accept": JSON_TYPE})
    etag = first.headers["ETag"]
    again = fetch(sample_index.project_url("signals"), headers={"Accept": JSON_TYPE, "If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    html = fetch(sample_index.project_url("signals"), headers={"If-None-Match": etag})
    assert html.status == 200  # another representation, another tag


def test_html_only_index_ignores_accept(package_index):
    server = package_index([Dist("solo", "1.0")], json_api=False)
    for url in (server.url, server.project_url("solo")):
        answer = fetch(url, headers={"Accept": JSON_TYPE})
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/html")
        assert b"<a " in answer.body


def test_json_only_index(package_index):
    server = package_index([Dist("solo", "1.0")], html_api=False)
    assert fetch(server.project_url("solo")).headers["Content-Type"] == JSON_TYPE  # no Accept at all
    assert fetch(server.project_url("solo"), headers={"Accept": "*/*"}).json()["name"] == "solo"
    assert fetch(server.project_url("solo"), headers={"Accept": "text/html"}).status == 406


def test_an_index_must_serve_something(package_index):
    with pytest.raises(ValueError, match="JSON, HTML or both"):
        package_index([Dist("solo", "1.0")], json_api=False, html_api=False)


def test_absolute_urls_option(package_index):
    server = package_index([Dist("solo", "1.0")], absolute_urls=True)
    entry = json_page(server.project_url("solo"))["files"][0]
    assert entry["url"] == server.file_url(entry["filename"])
    links, _ = html_links(fetch(server.project_url("solo")).body.decode())
    assert all((link["href"] or "").startswith(server.base_url + "/files/") for link in links)
