"""Token authentication and TLS of a real server process."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest

import swagger_client
from swagger_client.rest import ApiException
from tests.userapi.conftest import advise_body, api_client, request

TOKEN = "correct-horse-battery-staple"


@pytest.fixture
def token_server(start_server, sample_index):
    return start_server("--token", TOKEN, index_url=sample_index.url)


def test_submitting_needs_the_token(token_server, sample_index):
    url = token_server.api_url + "/advise/python"
    status, headers, body = request("POST", url, advise_body(sample_index.url))
    assert status == 401 and "token" in body["error"] and headers["www-authenticate"] == "Bearer"
    status, _, body = request("POST", url, advise_body(sample_index.url), {"Authorization": "Bearer wrong"})
    assert status == 401 and "not valid" in body["error"]
    status, _, body = request(
        "POST", url, advise_body(sample_index.url), {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 202 and body["authenticated"] is True
    status, _, body = request(
        "POST", url + "?force=true", advise_body(sample_index.url), {"X-Thoth-Token": TOKEN}
    )
    assert status == 202 and body["authenticated"] is True


def test_results_need_the_token_listings_do_not(token_server, sample_index):
    client = api_client(token_server.api_url, token=TOKEN)
    accepted = swagger_client.AdviseApi(client).post_advise_python(advise_body(sample_index.url))
    assert accepted.authenticated is True
    anonymous = api_client(token_server.api_url)
    with pytest.raises(ApiException) as raised:
        swagger_client.AdviseApi(anonymous).get_advise_python_status(accepted.analysis_id)
    assert raised.value.status == 401 and json.loads(raised.value.body)["error"]
    assert swagger_client.AdviseApi(client).get_advise_python_status(accepted.analysis_id).status.state
    # Discovery and listings stay open: clients probe them before they know about tokens.
    assert swagger_client.PythonPackagesApi(anonymous).list_python_environments().environment
    assert request("GET", token_server.api_url)[0] == 200


def test_without_a_token_configured_requests_are_anonymous(start_server, sample_index):
    server = start_server(index_url=sample_index.url)
    status, _, body = request(
        "POST",
        server.api_url + "/advise/python",
        advise_body(sample_index.url),
        {"Authorization": "Bearer x"},
    )
    assert status == 202 and body["authenticated"] is False


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_with_the_generated_client(start_server, sample_index, certificate):
    cert, key = certificate
    context = ssl.create_default_context(cafile=str(cert))
    server = start_server(
        "--certfile",
        str(cert),
        "--keyfile",
        str(key),
        index_url=sample_index.url,
        scheme="https",
        ssl_context=context,
    )
    assert server.api_url.startswith("https://")
    client = api_client(server.api_url, ca_file=str(cert))
    paths, status, headers = swagger_client.ServiceApi(client).api_discovery_with_http_info()
    assert status == 200 and headers["X-Thoth-Version"]
    assert headers["X-Thoth-Search-Ui-Url"].startswith("https://")
    accepted = swagger_client.AdviseApi(client).post_advise_python(advise_body(sample_index.url))
    assert accepted.analysis_id.startswith("adviser-")
    # A client that does not trust the certificate is refused by TLS itself.
    with pytest.raises(ssl.SSLError):
        request("GET", server.api_url, ssl_context=ssl.create_default_context())
