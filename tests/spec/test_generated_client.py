"""The generated client reads realistic documents, nulls included, over real HTTP."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import swagger_client
from swagger_client.exceptions import ApiValueError
from tests.spec.documents import (
    ADVISER_DOCUMENT,
    ADVISER_ID,
    FAILED_ADVISER_DOCUMENT,
    LOCK,
    PENDING,
    PROVENANCE_DOCUMENT,
    PROVENANCE_ID,
)


class FakeBackend:
    """A real HTTP server on 127.0.0.1 answering fixed JSON per (method, path)."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, object]] = {}
        self.seen: list[tuple[str, str, str | None, bytes]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                backend.seen.append((self.command, self.path, self.headers.get("Authorization"), body))
                path = self.path.split("?", 1)[0]
                status, payload = backend.answers.get((self.command, path), (404, {"error": "unknown"}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    server = FakeBackend()
    yield server
    server.stop()


@pytest.fixture
def client(backend: FakeBackend) -> swagger_client.ApiClient:
    configuration = swagger_client.Configuration()
    configuration.host = backend.url
    configuration.access_token = "s3cret"
    return swagger_client.ApiClient(configuration)


def test_advise_round_trip(backend: FakeBackend, client: swagger_client.ApiClient) -> None:
    backend.answers[("POST", "/api/v1/advise/python")] = (
        202,
        {"analysis_id": ADVISER_ID, "cached": False, "authenticated": True, "parameters": {"dev": True}},
    )
    backend.answers[("GET", f"/api/v1/advise/python/{ADVISER_ID}")] = (200, ADVISER_DOCUMENT)
    api = swagger_client.AdviseApi(client)

    body = swagger_client.AdviseInput(
        application_stack=swagger_client.PythonStack(requirements='[packages]\nflask = "*"\n'),
        runtime_environment=swagger_client.RuntimeEnvironment(python_version="3.11", platform="linux-x86_64"),
    )
    accepted = api.post_advise_python(body, recommendation_type="stable", dev=True)
    assert accepted.analysis_id == ADVISER_ID and accepted.authenticated is True

    method, path, authorization, sent = backend.seen[0]
    assert (method, authorization) == ("POST", "Bearer s3cret")
    assert path.startswith("/api/v1/advise/python?") and "recommendation_type=stable" in path
    sent_json = json.loads(sent)
    assert sent_json["application_stack"]["requirements"] == '[packages]\nflask = "*"\n'
    assert sent_json["runtime_environment"] == {"python_version": "3.11", "platform": "linux-x86_64"}

    document = api.get_advise_python(ADVISER_ID)
    product = document.result.report.products[0]
    assert product.project.requirements_locked == LOCK
    assert product.dependency_graph.edges == [[0, 1]]
    assert product.project.runtime_environment.operating_system.version is None
    assert product.advised_runtime_environment is None
    assert product.justification[1].package_name is None
    assert document.result.report.pipeline is None
    assert document.metadata.hostname is None
    # What the client holds serializes back to the same document (extra keys aside).
    # What the client holds serializes back to the same document; the generated models
    # leave out null fields and keys the contract does not name.
    echoed = client.sanitize_for_serialization(document)
    original = ADVISER_DOCUMENT["result"]["report"]["products"][0]["project"]
    project = echoed["result"]["report"]["products"][0]["project"]
    for key in ("requirements", "requirements_locked", "constraints"):
        assert project[key] == original[key]
    assert project["runtime_environment"] == {
        "operating_system": {"name": "ubi"},
        "python_version": "3.11",
        "platform": "linux-x86_64",
        "recommendation_type": "stable",
    }
    assert echoed["result"]["report"]["stack_info"] == ADVISER_DOCUMENT["result"]["report"]["stack_info"]


def test_failed_resolution_document_is_read(backend: FakeBackend, client: swagger_client.ApiClient) -> None:
    backend.answers[("GET", f"/api/v1/advise/python/{ADVISER_ID}")] = (200, FAILED_ADVISER_DOCUMENT)
    document = swagger_client.AdviseApi(client).get_advise_python(ADVISER_ID)
    assert document.result.error is True
    assert "conflicts with" in document.result.error_msg
    assert document.result.report.products == []
    assert document.result.report.stack_info[0].type == "ERROR"


def test_document_without_report_is_read(client: swagger_client.ApiClient) -> None:
    document = client._ApiClient__deserialize(
        {"result": {"error": True, "error_msg": "the adviser crashed", "report": None}},
        "AdviserResultResponse",
    )
    assert document.result.report is None and document.metadata is None


def test_null_in_a_never_null_field_is_rejected(client: swagger_client.ApiClient) -> None:
    broken = copy.deepcopy(ADVISER_DOCUMENT)
    broken["result"]["report"]["products"][0]["score"] = None
    with pytest.raises(ValueError, match="score"):
        client._ApiClient__deserialize(broken, "AdviserResultResponse")


def test_pending_answer_and_status_and_log(backend: FakeBackend, client: swagger_client.ApiClient) -> None:
    backend.answers[("GET", f"/api/v1/advise/python/{ADVISER_ID}")] = (202, PENDING)
    backend.answers[("GET", f"/api/v1/advise/python/{ADVISER_ID}/status")] = (200, PENDING["status"])
    backend.answers[("GET", f"/api/v1/advise/python/{ADVISER_ID}/log")] = (
        200,
        {"log": None, "parameters": None},
    )
    api = swagger_client.AdviseApi(client)

    pending, status_code, _ = api.get_advise_python_with_http_info(ADVISER_ID)
    assert status_code == 202
    assert pending.status.status.state == "pending"
    assert api.get_advise_python_status(ADVISER_ID).status.finished_at is None
    assert api.get_advise_python_log(ADVISER_ID).log is None


def test_an_id_of_another_kind_is_refused_before_sending(
    backend: FakeBackend, client: swagger_client.ApiClient
) -> None:
    # The spec declares each kind's id format, so the generated client checks it itself.
    with pytest.raises(ApiValueError) as raised:
        swagger_client.AdviseApi(client).get_advise_python(PROVENANCE_ID)
    assert "must conform to the pattern" in str(raised.value)
    assert not backend.seen


def test_provenance_round_trip(backend: FakeBackend, client: swagger_client.ApiClient) -> None:
    backend.answers[("POST", "/api/v1/provenance/python")] = (
        202,
        {"analysis_id": PROVENANCE_ID, "cached": True, "authenticated": False, "parameters": {}},
    )
    backend.answers[("GET", f"/api/v1/provenance/python/{PROVENANCE_ID}")] = (200, PROVENANCE_DOCUMENT)
    api = swagger_client.ProvenanceApi(client)
    stack = swagger_client.PythonStack(
        requirements='[packages]\nflask = "*"\n', requirements_lock=json.dumps(LOCK)
    )
    assert api.post_provenance_python(stack).cached is True
    report = api.get_provenance_python(PROVENANCE_ID).result.report
    assert [item.id for item in report] == ["ARTIFACT_HASH_NOT_FOUND", "INSECURE_SOURCE"]
    assert report[0].source is None and report[1].source["verify_ssl"] is False


def test_listings(backend: FakeBackend, client: swagger_client.ApiClient) -> None:
    backend.answers.update(
        {
            ("GET", "/api/v1/python/environment"): (
                200,
                {
                    "environment": [
                        {"os_name": "ubi", "os_version": "9", "python_version": "3.11", "cuda_version": None}
                    ]
                },
            ),
            ("GET", "/api/v1/python-package-index"): (
                200,
                {
                    "indexes": [
                        {
                            "url": "http://127.0.0.1:1/simple/",
                            "warehouse_api_url": None,
                            "verify_ssl": False,
                            "enabled": True,
                            "name": "main",
                        }
                    ]
                },
            ),
            ("GET", "/api/v1/container-images"): (200, {"container_images": [], "parameters": {"page": 3}}),
            ("GET", "/api/v1/python/platform"): (200, {"platform": ["linux-x86_64", "linux-aarch64"]}),
            ("GET", "/api/v1/python/imports"): (
                200,
                {
                    "package_names": [
                        {
                            "package_name": "PyYAML",
                            "index_url": "http://127.0.0.1:1/simple/",
                            "version": "6.0.1",
                        }
                    ],
                    "parameters": {"import_name": "yaml"},
                },
            ),
            ("GET", "/api/v1/python/package/dependencies"): (
                200,
                {
                    "dependencies": [
                        {"name": "click", "version": ">=8.1.3", "extra": None, "environment_marker": None}
                    ],
                    "parameters": {},
                },
            ),
            ("GET", "/api/v1/python/package/versions"): (
                200,
                {
                    "versions": [
                        {
                            "package_name": "flask",
                            "package_version": "3.0.0",
                            "index_url": "http://127.0.0.1:1/simple/",
                        }
                    ],
                    "parameters": {},
                },
            ),
            ("GET", "/api/v1/version"): (200, {"version": "1.0.0", "service_version": "0.1.0"}),
            ("GET", "/api/v1/"): (200, ["/advise/python", "/version"]),
        }
    )
    packages = swagger_client.PythonPackagesApi(client)
    assert packages.list_python_environments().environment[0].cuda_version is None
    assert packages.list_python_package_indexes().indexes[0].warehouse_api_url is None
    assert packages.get_python_platform().platform == ["linux-x86_64", "linux-aarch64"]
    assert packages.get_package_from_imported_packages("yaml").package_names[0].package_name == "PyYAML"
    dependencies = packages.get_python_package_dependencies("flask", "3.0.0", "http://127.0.0.1:1/simple/")
    assert dependencies.dependencies[0].extra is None
    assert packages.get_python_package_versions("flask", page=0).versions[0].package_version == "3.0.0"
    assert (
        swagger_client.ContainerImagesApi(client).list_thoth_container_images(page=3).container_images == []
    )
    service = swagger_client.ServiceApi(client)
    assert service.get_version().service_version == "0.1.0"
    assert service.api_discovery() == ["/advise/python", "/version"]
