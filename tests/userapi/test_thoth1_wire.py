"""Requests exactly as a thamos 1.x client (1.29.1) sent them, replayed over TLS.

The requests below were recorded with a logging proxy between a real 1.x client and this server
(see compat/thoth1_client_check.py). The 1.x client's generated models refuse an answer in which
a field their spec made required is missing or null, so each answer is checked against that list
of fields (the `THOTH1_*` shapes, taken from the 1.x client's models), not only against our spec.
"""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adviser import wire
from tests.userapi.conftest import API, ServerProcess, free_port, pipfile, request, server_environment
from userapi.listings import load_container_images
from userapi.settings import SettingsError

# What a 1.x client needs to find, non-null, in each answer: a type, a nested shape, or a list
# whose items all have the shape in it. Keys not named are free.
THOTH1_METADATA = {
    "analyzer": str,
    "analyzer_version": str,
    "arguments": dict,
    "datetime": str,
    "distribution": {
        "codename": str,
        "id": str,
        "like": str,
        "version": str,
        "version_parts": {"build_number": str, "major": str, "minor": str},
    },
    "document_id": str,
    "duration": (int, float),
    "hostname": str,
    "os_release": dict,
    "python": {
        "api_version": int,
        "implementation_name": str,
        "major": int,
        "micro": int,
        "minor": int,
        "releaselevel": str,
        "serial": int,
    },
    "thoth_deployment_name": str,
    "timestamp": int,
}
THOTH1_PROJECT = {
    "constraints": [{"markers": str, "name": str, "version": str}],
    "requirements": dict,
    "requirements_locked": dict,
    "runtime_environment": dict,
}
THOTH1_UNIT = {"configuration": dict, "name": str, "unit_run": bool}
THOTH1_ADVISER_DOCUMENT = {
    "metadata": THOTH1_METADATA,
    "result": {
        "error": bool,
        "parameters": dict,
        "report": {
            "products": [
                {
                    "advised_manifest_changes": list,
                    "dependency_graph": {"edges": list, "nodes": list},
                    "justification": [{"link": str, "message": str, "type": str}],
                    "project": THOTH1_PROJECT,
                    "score": (int, float),
                }
            ],
            "pipeline": {kind: [THOTH1_UNIT] for kind in wire.PIPELINE_UNIT_KINDS},
        },
    },
}
THOTH1_PROVENANCE_DOCUMENT = {
    "metadata": THOTH1_METADATA,
    "result": {"error": bool, "parameters": {"project": THOTH1_PROJECT}, "report": list},
}
THOTH1_CONTAINER_IMAGE = {
    "datetime": str,
    "environment_type": str,
    "image_analysis_url": str,
    "package_extract_document_id": str,
    "quay_repo_url": str,
}
THOTH1_INDEX = {"only_if_package_seen": bool, "url": str, "verify_ssl": bool}
THOTH1_IMPORT = {"index_url": str, "package_import": str, "package_name": str, "package_version": str}

# The query strings the 1.x CLI sent, byte for byte.
ADVISE_QUERY = "recommendation_type=latest&origin=None&source_type=cli&dev=False&debug=False&force=False"
PROVENANCE_QUERY = "debug=False&force=False"


def shape_problems(value: Any, shape: Any, where: str = "") -> list[str]:
    """Every place where `value` lacks what `shape` demands (see THOTH1_METADATA)."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where or '(document)'}: expected an object, got {value!r:.80}"]
        problems = []
        for key, inner in shape.items():
            if value.get(key) is None:
                problems.append(f"{where}/{key}: missing or null")
            else:
                problems += shape_problems(value[key], inner, f"{where}/{key}")
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r:.80}"]
        return [
            problem
            for n, item in enumerate(value)
            for problem in shape_problems(item, shape[0], f"{where}/{n}")
        ]
    if isinstance(value, bool) and shape in (int, float, (int, float)):
        return [f"{where}: expected a number, got {value!r}"]
    return [] if isinstance(value, shape) else [f"{where}: expected {shape}, got {value!r:.80}"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("thoth1-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture(scope="module")
def api(sample_index, certificate, tls, tmp_path_factory) -> Iterator[str]:
    """A TLS server as a 1.x client reaches it: https://localhost:PORT/api/v1."""
    root = tmp_path_factory.mktemp("thoth1-server")
    data_dir, cache_dir = root / "data", root / "cache"
    cert, key = certificate
    server = ServerProcess(
        port=free_port(),
        data_dir=data_dir,
        cache_dir=cache_dir,
        args=["--certfile", str(cert), "--keyfile", str(key), "--default-index", f"local={sample_index.url}"],
        env=server_environment(data_dir, cache_dir, sample_index.url),
        scheme="https",
    )
    server.start(ssl_context=tls)
    yield f"https://localhost:{server.port}{API}"
    server.stop()


def thoth1_pipfile(index_url: str, packages: dict[str, str]) -> str:
    return pipfile(index_url, packages).replace('name = "main"', 'name = "local"')


def thoth1_advise_body(
    index_url: str, packages: dict[str, str], constraints: str | None = None
) -> dict[str, Any]:
    """The body `thamos advise` (1.29.1) POSTed: lock as "", library usage, a full environment."""
    body: dict[str, Any] = {
        "application_stack": {"requirements": thoth1_pipfile(index_url, packages), "requirements_lock": ""},
        "library_usage": {"report": {}, "version": "0.2.2"},
        "runtime_environment": {
            "name": "debian-12",
            "operating_system": {"name": "debian", "version": "12"},
            "labels": None,
            "hardware": {"cpu_family": 25, "cpu_model": 1, "gpu_model": None},
            "python_version": "3.11",
            "cuda_version": None,
            "platform": "linux-x86_64",
            "openblas_version": None,
            "openmpi_version": None,
            "cudnn_version": None,
            "mkl_version": None,
            "base_image": None,
        },
    }
    if constraints is not None:
        body["constraints"] = constraints  # beside the stack, where 1.x puts constraints.txt
    return body


def wait_like_thoth1(api: str, path: str, tls: ssl.SSLContext, timeout: float = 60.0) -> dict[str, Any]:
    """Poll as 1.x does (202 means not ready, 200 ready) and return the document."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = request("GET", api + path, ssl_context=tls)
        if status == 200:
            return body
        assert status == 202, (status, body)
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish within {timeout} s")


@pytest.fixture(scope="module")
def advised(api, tls, sample_index) -> dict[str, Any]:
    """`thamos advise` with a constraints.txt, as 1.x sent it; legacy-tool's wheel is read by range."""
    body = thoth1_advise_body(
        sample_index.url,
        {"webapp-framework": "*", "legacy-tool": "*"},
        constraints='templating<3; python_version >= "3.8"\n',
    )
    status, _, accepted = request("POST", f"{api}/advise/python?{ADVISE_QUERY}", body, ssl_context=tls)
    assert status == 202, accepted
    assert shape_problems(accepted, {"analysis_id": str, "cached": bool, "parameters": dict}) == []
    return wait_like_thoth1(api, f"/advise/python/{accepted['analysis_id']}", tls)


def test_discovery_over_tls_by_host_name(api, tls):
    for method in ("HEAD", "GET"):
        status, headers, body = request(method, api, ssl_context=tls)
        assert status == 200, body
        assert headers["x-thoth-version"] and headers["x-thoth-search-ui-url"]
    assert f"{API}/advise/python" in body


def test_advise_document_has_every_field_thoth1_requires(advised):
    assert advised["result"]["error"] is False, advised["result"]["error_msg"]
    assert shape_problems(advised, THOTH1_ADVISER_DOCUMENT) == []


def test_constraints_sent_beside_the_stack_are_applied_and_reported_as_thoth_objects(advised):
    project = advised["result"]["report"]["products"][0]["project"]
    assert project["requirements_locked"]["default"]["templating"]["version"] == "==2.0"
    assert project["constraints"] == [
        {"name": "templating", "version": "<3", "markers": 'python_version >= "3.8"'}
    ]


def test_status_and_log_answers(api, tls, advised):
    analysis_id = advised["metadata"]["document_id"]
    status, _, answer = request("GET", f"{api}/advise/python/{analysis_id}/status", ssl_context=tls)
    assert status == 200 and shape_problems(answer, {"parameters": dict, "status": {"state": str}}) == []
    status, _, answer = request("GET", f"{api}/advise/python/{analysis_id}/log", ssl_context=tls)
    assert status == 200 and shape_problems(answer, {"parameters": dict, "log": str}) == []


def test_provenance_check_with_the_stack_wrapped_as_thoth1_sends_it(api, tls, advised, sample_index):
    lock = advised["result"]["report"]["products"][0]["project"]["requirements_locked"]
    requirements = thoth1_pipfile(sample_index.url, {"webapp-framework": "*", "legacy-tool": "*"})
    body = {
        "application_stack": {"requirements": requirements, "requirements_lock": json.dumps(lock, indent=4)}
    }
    status, _, accepted = request(
        "POST", f"{api}/provenance/python?{PROVENANCE_QUERY}", body, ssl_context=tls
    )
    assert status == 202, accepted
    assert accepted["analysis_id"].startswith("provenance-checker-")
    document = wait_like_thoth1(api, f"/provenance/python/{accepted['analysis_id']}", tls)
    assert shape_problems(document, THOTH1_PROVENANCE_DOCUMENT) == []
    assert document["result"]["error"] is False, document["result"]["report"]
    assert document["result"]["parameters"]["project"]["requirements_locked"] == lock


def test_wrapped_provenance_body_without_a_pipfile_is_a_clear_400(api, tls):
    body = {"application_stack": {"requirements_lock": "{}"}}
    status, _, answer = request("POST", f"{api}/provenance/python?{PROVENANCE_QUERY}", body, ssl_context=tls)
    assert status == 400 and "requirements" in answer["error"]


def test_container_images_pages_as_thoth1_reads_them(api, tls):
    images, page = [], 0
    while True:
        status, _, answer = request("GET", f"{api}/container-images?page={page}", ssl_context=tls)
        assert status == 200
        if not answer["container_images"]:
            break
        images += answer["container_images"]
        page += 1
    assert images
    assert shape_problems(images, [THOTH1_CONTAINER_IMAGE]) == []
    assert {image["environment_type"] for image in images} <= {"RUNTIME", "BUILDTIME"}


def test_indexes_carry_only_if_package_seen(api, tls):
    status, _, answer = request("GET", f"{api}/python-package-index", ssl_context=tls)
    assert status == 200 and answer["indexes"]
    assert shape_problems(answer["indexes"], [THOTH1_INDEX]) == []


def test_imports_answer_under_thoth1_names(api, tls, advised):
    status, _, answer = request("GET", f"{api}/python/imports?import_name=legacy_tool", ssl_context=tls)
    assert status == 200, answer
    assert shape_problems(answer["package_names"], [THOTH1_IMPORT]) == []
    assert answer["package_names"][0]["package_import"] == "legacy_tool"
    assert answer["package_names"][0]["package_version"] == "1.0"


# -- documents and catalogues in isolation --------------------------------------------------------


def test_a_document_stored_before_the_fields_existed_is_completed():
    old = {
        "metadata": {
            "analyzer": "thamos-adviser",
            "datetime": "2026-01-02T03:04:05+00:00",
            "distribution": {"id": "x"},
        },
        "result": {
            "error": False,
            "parameters": None,
            "report": {
                "products": [{"project": {"constraints": ["b>=1", "c"]}}],
                "stack_info": [],
                "pipeline": {"rule_set": "r"},
            },
        },
    }
    document = wire.complete_document("adviser", old, "adviser-260102030405-0123456789abcdef", {})
    assert shape_problems(document["metadata"], THOTH1_METADATA) == []
    assert document["metadata"]["timestamp"] == 1767323045
    assert document["result"]["parameters"] == {}
    pipeline = document["result"]["report"]["pipeline"]
    assert pipeline["rule_set"] == "r" and all(pipeline[kind] == [] for kind in wire.PIPELINE_UNIT_KINDS)
    assert document["result"]["report"]["products"][0]["project"]["constraints"] == [
        {"name": "b", "version": ">=1", "markers": ""},
        {"name": "c", "version": "*", "markers": ""},
    ]
    # Completing twice changes nothing.
    assert wire.complete_document("adviser", json.loads(json.dumps(document)), "x", {}) == document


def test_catalogue_environment_type_is_upper_cased_and_checked(tmp_path):
    catalogue = tmp_path / "images.yaml"
    catalogue.write_text(
        "- {os_name: debian, os_version: '12', python_version: '3.11', environment_type: buildtime}\n"
        "- {os_name: debian, os_version: '12', python_version: '3.12'}\n"
    )
    images = load_container_images(catalogue)
    assert [image["environment_type"] for image in images] == ["BUILDTIME", "RUNTIME"]
    assert shape_problems(images, [THOTH1_CONTAINER_IMAGE]) == []
    catalogue.write_text(
        "- {os_name: debian, os_version: '12', python_version: '3.11', environment_type: gpu}\n"
    )
    with pytest.raises(SettingsError, match="environment_type 'gpu'"):
        load_container_images(catalogue)
