"""Every endpoint of a real server process, driven by the generated client and by raw HTTP."""

from __future__ import annotations

import json
import time

import pytest

import swagger_client
from swagger_client.rest import ApiException
from tests.support.index_server import SAMPLE_DISTS
from tests.userapi.conftest import (
    API,
    advise_body,
    api_client,
    pipfile,
    request,
    wait_for_document,
)

UNKNOWN_ADVISER_ID = "adviser-240101120000-0123456789abcdef"
UNKNOWN_PROVENANCE_ID = "provenance-checker-240101120000-0123456789abcdef"


@pytest.fixture(scope="module")
def client(shared_server):
    return api_client(shared_server.api_url)


@pytest.fixture(scope="module")
def resolved(shared_server, sample_index):
    """One finished resolution: the catalogue answers from what it read.

    legacy-tool has no PEP 658 file, so its wheel is read, which also tells its import names.
    """
    body = advise_body(sample_index.url, {"webapp-framework": "*", "legacy-tool": "*"})
    _, _, accepted = request(
        "POST", shared_server.api_url + "/advise/python?recommendation_type=latest", body
    )
    document = wait_for_document(shared_server.api_url, "/advise/python", accepted["analysis_id"])
    assert document["result"]["error"] is False, document["result"]["error_msg"]
    return document


# -- service -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [API, API + "/"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_discovery_answers_with_thoth_headers(shared_server, path, method):
    from thamos import __version__

    status, headers, body = request(method, shared_server.base_url + path)
    assert status == 200
    assert headers["x-thoth-version"] == __version__
    assert headers["x-thoth-search-ui-url"].endswith("/web/")
    if method == "GET":
        assert API + "/advise/python" in body
        assert API + "/provenance/python/{analysis_id}" in body
    else:
        assert body is None


def test_discovery_and_version_through_the_generated_client(client):
    api = swagger_client.ServiceApi(client)
    paths, status, headers = api.api_discovery_with_http_info()
    assert status == 200 and "/api/v1/python/environment" in paths
    assert headers["X-Thoth-Version"]
    _, status, headers = api.api_discovery_head_with_http_info()
    assert status == 200 and headers["X-Thoth-Search-Ui-Url"]
    version = api.get_version()
    assert version.version == "1.0.0" or version.version  # the spec's info.version
    from thamos import __version__

    assert version.service_version == __version__


def test_liveness_readiness_spec_and_ui(shared_server):
    assert request("GET", shared_server.base_url + "/liveness")[0] == 200
    status, _, body = request("GET", shared_server.base_url + "/readiness")
    assert status == 200 and body["status"] == "ready"
    status, _, spec = request("GET", shared_server.api_url + "/openapi.json")
    assert status == 200 and "/advise/python" in spec["paths"]
    status, headers, page = request("GET", shared_server.api_url + "/ui/", headers={"Accept": "text/html"})
    assert status == 200 and "swagger" in page.lower()


def test_unknown_path_is_a_json_404(shared_server):
    status, headers, body = request("GET", shared_server.api_url + "/no-such-thing")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert body["error"]


# -- listings -----------------------------------------------------------------------------------


def test_environments_platforms_and_indexes(client, sample_index):
    api = swagger_client.PythonPackagesApi(client)
    environments = api.list_python_environments().environment
    assert {env.python_version for env in environments} >= {"3.9", "3.10", "3.11", "3.12", "3.13"}
    assert all(env.os_name and env.os_version for env in environments)
    assert "linux-x86_64" in api.get_python_platform().platform
    indexes = api.list_python_package_indexes().indexes
    assert [index.url for index in indexes] == [sample_index.url]
    assert indexes[0].enabled is True and indexes[0].name == "main"


def test_container_images_page_until_empty(client):
    api = swagger_client.ContainerImagesApi(client)
    seen = []
    page = 0
    while True:
        answer = api.list_thoth_container_images(page=page, per_page=3)
        if not answer.container_images:
            break
        assert len(answer.container_images) <= 3
        seen += answer.container_images
        page += 1
    assert page >= 2, "the built-in catalogue spans several pages of 3"
    assert len({(image.image_name, image.image_tag) for image in seen}) == len(seen)
    assert api.list_thoth_container_images(page=1000).container_images == []
    only = api.list_thoth_container_images(python_version="3.12", os_name="debian").container_images
    assert only and all(image.python_version == "3.12" and image.os_name == "debian" for image in only)


def test_package_versions_from_the_catalogue(client, sample_index, resolved):
    api = swagger_client.PythonPackagesApi(client)
    answer = api.get_python_package_versions("signals")
    versions = [item.package_version for item in answer.versions]
    assert {"1.0", "1.1", "1.2"} <= set(versions)
    assert all(item.index_url == sample_index.url for item in answer.versions)
    assert api.get_python_package_versions("signals", page=50).versions == []
    with pytest.raises(ApiException) as raised:
        api.get_python_package_versions("no-such-project-here")
    assert raised.value.status == 404
    assert json.loads(raised.value.body)["error"]


def test_package_dependencies_from_the_catalogue(client, sample_index, resolved):
    api = swagger_client.PythonPackagesApi(client)
    answer = api.get_python_package_dependencies("webapp-framework", "2.1", sample_index.url)
    by_name = {item.name: item for item in answer.dependencies}
    assert {"templating", "signals", "http-client", "http-client[socks]"} <= set(by_name)
    assert by_name["http-client[socks]"].extra == "async"
    assert by_name["signals"].version == ">=1.1" and by_name["signals"].marker_evaluation_result is None
    kept = api.get_python_package_dependencies(
        "webapp-framework", "2.1", sample_index.url, python_version="3.11", marker_evaluation_result=True
    )
    assert {item.name for item in kept.dependencies} == {"templating", "signals", "http-client"}
    with pytest.raises(ApiException) as raised:
        api.get_python_package_dependencies("webapp-framework", "9.9", sample_index.url)
    assert raised.value.status == 404


def test_imports_from_the_catalogue(client, sample_index, resolved):
    api = swagger_client.PythonPackagesApi(client)
    answer = api.get_package_from_imported_packages("legacy_tool")
    assert [(item.package_name, item.version, item.index_url) for item in answer.package_names] == [
        ("legacy-tool", "1.0", sample_index.url)
    ]
    assert answer.parameters["import_name"] == "legacy_tool"
    # A dotted name is looked up by its top-level module.
    dotted = api.get_package_from_imported_packages("legacy_tool.sub")
    assert [item.package_name for item in dotted.package_names] == ["legacy-tool"]


def test_unknown_import_is_a_404_naming_it(client, resolved):
    api = swagger_client.PythonPackagesApi(client)
    with pytest.raises(ApiException) as raised:
        api.get_package_from_imported_packages("no_module_by_this_name")
    assert raised.value.status == 404
    body = json.loads(raised.value.body)
    assert "'no_module_by_this_name'" in body["error"] and "no resolution" in body["error"]
    assert body["parameters"] == {"import_name": "no_module_by_this_name"}


def test_blank_import_name_is_a_400(shared_server):
    status, _, body = request("GET", shared_server.api_url + "/python/imports?import_name=%20%20")
    assert status == 400 and "import_name" in body["error"]


# -- analyses -------------------------------------------------------------------------------------


def test_advise_round_trip_with_the_real_adviser(client, sample_index):
    api = swagger_client.AdviseApi(client)
    body = swagger_client.AdviseInput(
        application_stack=swagger_client.PythonStack(
            requirements=pipfile(sample_index.url, {"webapp-framework": "*"}), requirements_format="pipenv"
        ),
        runtime_environment=swagger_client.RuntimeEnvironment(
            python_version="3.11",
            platform="linux-x86_64",
            operating_system=swagger_client.OperatingSystem(name="debian", version="12"),
        ),
    )
    accepted = api.post_advise_python(body, recommendation_type="latest", force=True)
    assert accepted.analysis_id.startswith("adviser-") and accepted.cached is False
    assert accepted.authenticated is False and accepted.parameters["recommendation_type"] == "latest"
    deadline = time.monotonic() + 60
    while True:
        document, status, _ = api.get_advise_python_with_http_info(accepted.analysis_id)
        if status == 200:
            break
        assert status == 202 and document.status.status.state in ("pending", "running")
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert document.result.error is False, document.result.error_msg
    product = document.result.report.products[0]
    locked = product.project.requirements_locked
    assert set(locked["default"]) >= {"webapp-framework", "templating", "signals", "markup-escape"}
    assert locked["default"]["webapp-framework"]["version"] == "==2.1"
    assert document.metadata.document_id == accepted.analysis_id
    assert document.metadata.analyzer and document.metadata.python["major"] == 3

    status = api.get_advise_python_status(accepted.analysis_id).status
    assert status.state == "terminated" and status.finished_at and status.exit_code == 0
    assert api.get_advise_python_log(accepted.analysis_id).log


def test_a_result_request_with_wait_is_held_until_the_document_is_ready(shared_server, package_index):
    slow = package_index(SAMPLE_DISTS, delay=0.3)  # every answer of this index takes 0.3 s
    _, _, accepted = request("POST", shared_server.api_url + "/advise/python?force=true", advise_body(slow.url))
    result = f"{shared_server.api_url}/advise/python/{accepted['analysis_id']}"
    asked = time.monotonic()
    assert request("GET", result)[0] == 202  # no wait: the answer comes at once
    assert request("GET", result + "?wait=0")[0] == 202
    status, _, document = request("GET", result + "?wait=25", timeout=40)
    assert status == 200 and document["result"]["error"] is False
    assert time.monotonic() - asked < 20  # answered when the analysis ended, not when the wait did


def test_a_wait_that_runs_out_answers_202_and_is_bounded(shared_server, package_index):
    stalled = package_index(SAMPLE_DISTS, delay=3.0)  # the analysis needs several of its answers
    _, _, accepted = request("POST", shared_server.api_url + "/advise/python?force=true", advise_body(stalled.url))
    result = f"{shared_server.api_url}/advise/python/{accepted['analysis_id']}"
    asked = time.monotonic()
    status, _, body = request("GET", result + "?wait=0.5")
    assert status == 202 and body["status"]["status"]["state"] in ("pending", "running")
    assert 0.5 <= time.monotonic() - asked < 2.5
    assert request("GET", result + "?wait=31")[0] == 400  # at most 30 seconds
    assert request("GET", result + "?wait=-1")[0] == 400


def test_failed_resolution_is_a_200_error_document(shared_server, sample_index):
    body = advise_body(sample_index.url, {"webapp-framework": "==2.1", "templating": "<2"})
    status, _, accepted = request("POST", shared_server.api_url + "/advise/python", body)
    assert status == 202
    document = wait_for_document(shared_server.api_url, "/advise/python", accepted["analysis_id"])
    assert document["result"]["error"] is True
    assert "templating" in document["result"]["error_msg"]
    assert document["result"]["report"]["products"] == []
    assert any(item["type"] == "ERROR" for item in document["result"]["report"]["stack_info"])
    status, _, state = request(
        "GET", f"{shared_server.api_url}/advise/python/{accepted['analysis_id']}/status"
    )
    assert status == 200 and state["status"]["state"] == "failed" and state["status"]["reason"]


def test_a_full_python_version_is_accepted_and_targeted_exactly(shared_server, sample_index):
    body = advise_body(sample_index.url, {"signals": "*"})
    body["runtime_environment"]["python_version"] = "3.11.4"
    status, _, accepted = request("POST", shared_server.api_url + "/advise/python?force=true", body)
    assert status == 202, accepted
    document = wait_for_document(shared_server.api_url, "/advise/python", accepted["analysis_id"])
    assert document["result"]["error"] is False, document["result"]["error_msg"]
    assert document["result"]["report"]["pipeline"]["target"]["python_full_version"] == "3.11.4"


def test_identical_request_is_cached_unless_forced(shared_server, sample_index):
    body = advise_body(sample_index.url, {"signals": "*"})
    url = shared_server.api_url + "/advise/python?recommendation_type=stable"
    _, _, first = request("POST", url, body)
    wait_for_document(shared_server.api_url, "/advise/python", first["analysis_id"])
    _, _, second = request("POST", url, body)
    assert second["cached"] is True and second["analysis_id"] == first["analysis_id"]
    _, _, other_type = request(
        "POST", shared_server.api_url + "/advise/python?recommendation_type=latest", body
    )
    assert other_type["cached"] is False and other_type["analysis_id"] != first["analysis_id"]
    _, _, forced = request("POST", url + "&force=true", body)
    assert forced["cached"] is False and forced["analysis_id"] != first["analysis_id"]
    assert forced["parameters"]["force"] is True


def test_thoth_1x_style_query_strings(shared_server, sample_index):
    """Thoth 1.x clients send Python's str() of values: True/False and the literal None."""
    query = (
        "recommendation_type=stable&dev=False&force=True&debug=False&origin=None&count=None&limit=None"
        "&source_type=None"
    )
    status, _, accepted = request(
        "POST", f"{shared_server.api_url}/advise/python?{query}", advise_body(sample_index.url)
    )
    assert status == 202, accepted
    assert accepted["analysis_id"] and accepted["parameters"]["force"] is True
    assert accepted["parameters"]["dev"] is False and accepted["parameters"]["origin"] is None
    status, _, page = request("GET", shared_server.api_url + "/container-images?page=None&per_page=None")
    assert status == 200 and page["container_images"]


@pytest.mark.parametrize("query", ["dev=maybe", "force=2", "debug=yes"])
def test_a_query_boolean_that_is_neither_true_nor_false_is_a_400(shared_server, sample_index, query):
    # Refused by connexion's validation before the handler reads it: never a 500.
    status, _, answer = request(
        "POST", f"{shared_server.api_url}/advise/python?{query}", advise_body(sample_index.url)
    )
    assert status == 400, answer
    assert "is not of type 'boolean'" in answer["error"]


def test_provenance_round_trip(client, shared_server, sample_index):
    # First a real lock from the adviser, then a provenance check of it.
    body = advise_body(sample_index.url, {"signals": "==1.1"})
    _, _, accepted = request("POST", shared_server.api_url + "/advise/python?force=true", body)
    document = wait_for_document(shared_server.api_url, "/advise/python", accepted["analysis_id"])
    assert document["result"]["error"] is False, document["result"]["error_msg"]
    lock = document["result"]["report"]["products"][0]["project"]["requirements_locked"]

    api = swagger_client.ProvenanceApi(client)
    stack = swagger_client.ProvenanceStack(
        requirements=pipfile(sample_index.url, {"signals": "==1.1"}), requirements_lock=json.dumps(lock)
    )
    submitted = api.post_provenance_python(swagger_client.ProvenanceInput(application_stack=stack), force=True)
    assert submitted.analysis_id.startswith("provenance-checker-")
    deadline = time.monotonic() + 60
    while True:
        result, status, _ = api.get_provenance_python_with_http_info(submitted.analysis_id)
        if status == 200:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert result.result.error is False, result.result.error_msg
    assert not [item for item in result.result.report or [] if item.type == "ERROR"]
    assert api.get_provenance_python_status(submitted.analysis_id).status.state == "terminated"
    assert (
        api.get_provenance_python_log(submitted.analysis_id).parameters["analysis_id"]
        == submitted.analysis_id
    )


def test_provenance_without_a_lock_is_a_400(shared_server):
    status, _, body = request(
        "POST", shared_server.api_url + "/provenance/python",
        {"application_stack": {"requirements": '[packages]\nsignals = "*"\n'}},
    )
    assert status == 400 and "requirements_lock" in body["error"]


@pytest.mark.parametrize(
    "path,analysis_id",
    [
        ("/advise/python/{}", UNKNOWN_PROVENANCE_ID),
        ("/advise/python/{}/status", UNKNOWN_PROVENANCE_ID),
        ("/advise/python/{}/log", UNKNOWN_PROVENANCE_ID),
        ("/provenance/python/{}", UNKNOWN_ADVISER_ID),
        ("/provenance/python/{}/log", UNKNOWN_ADVISER_ID),
        ("/advise/python/{}", "adviser-..-..-etc-passwd"),
        ("/advise/python/{}", "not-an-id"),
    ],
)
def test_wrong_prefix_or_malformed_id_is_400(shared_server, path, analysis_id):
    status, _, body = request("GET", shared_server.api_url + path.format(analysis_id))
    assert status == 400
    assert body["error"]


def test_path_like_id_never_reaches_a_file(shared_server):
    status, _, body = request("GET", shared_server.api_url + "/advise/python/adviser-..%2F..%2Fanalyses.db")
    assert status in (400, 404) and body["error"]
    assert "SQLite" not in json.dumps(body)


@pytest.mark.parametrize("path", ["/advise/python/{}", "/advise/python/{}/status", "/advise/python/{}/log"])
def test_unknown_id_is_404(client, shared_server, path):
    status, _, body = request("GET", shared_server.api_url + path.format(UNKNOWN_ADVISER_ID))
    assert status == 404 and UNKNOWN_ADVISER_ID in body["error"]
    with pytest.raises(ApiException) as raised:
        swagger_client.ProvenanceApi(client).get_provenance_python(UNKNOWN_PROVENANCE_ID)
    assert raised.value.status == 404


def test_invalid_body_is_a_clear_400(shared_server):
    status, headers, body = request(
        "POST", shared_server.api_url + "/advise/python", {"application_stack": {}}
    )
    assert status == 400 and headers["content-type"] == "application/json"
    assert "requirements" in body["error"]
    status, _, body = request("POST", shared_server.api_url + "/advise/python", raw_body=b"{not json")
    assert status == 400 and body["error"]


def test_request_too_large_is_413(shared_server, sample_index):
    huge = advise_body(sample_index.url)
    huge["application_stack"]["requirements"] += "#" * (5 * 1024 * 1024)
    status, _, body = request("POST", shared_server.api_url + "/advise/python", huge)
    assert status == 413
    assert "larger than" in body["error"]


def test_request_too_large_without_content_length_is_413(shared_server):
    """A chunked body is counted as it streams in."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
    chunks = (b"x" * 65536 for _ in range(100))  # 6.25 MiB, no Content-Length
    connection.request(
        "POST",
        API + "/advise/python",
        body=chunks,
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    assert "larger than" in json.loads(response.read())["error"]
    connection.close()


def test_recommendation_type_from_the_runtime_environment_when_the_query_has_none(
    shared_server, sample_index
):
    body = advise_body(sample_index.url, {"signals": "*"})
    body["runtime_environment"]["recommendation_type"] = "latest"
    _, _, accepted = request("POST", shared_server.api_url + "/advise/python", body)
    assert accepted["parameters"]["recommendation_type"] == "latest"
    _, _, accepted = request(
        "POST", shared_server.api_url + "/advise/python?recommendation_type=security", body
    )
    assert accepted["parameters"]["recommendation_type"] == "security"
    del body["runtime_environment"]["recommendation_type"]
    _, _, accepted = request("POST", shared_server.api_url + "/advise/python", body)
    assert accepted["parameters"]["recommendation_type"] == "stable"
