"""Building the generated client's configuration: host forms, TLS, token and user agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from thamos.api_client import build_api_client, is_local_default, normalize_host
from thamos.config import Configuration
from thamos.exceptions import ConfigurationError


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("thoth.example.com", "https://thoth.example.com/api/v1"),
        ("thoth.example.com:8443/", "https://thoth.example.com:8443/api/v1"),
        ("localhost:9000", "http://localhost:9000/api/v1"),
        ("127.0.0.1", "http://127.0.0.1/api/v1"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080/api/v1"),
        ("https://thoth.example.com/prefix/", "https://thoth.example.com/prefix/api/v1"),
        ("https://thoth.example.com/api/v1", "https://thoth.example.com/api/v1"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize("host", ["ftp://thoth.example.com", "   ", "https://"])
def test_bad_hosts_are_configuration_errors(host: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_host(host)


def test_local_default_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THAMOS_EMBEDDED_PORT", raising=False)
    assert is_local_default(None) and is_local_default("")
    assert is_local_default("127.0.0.1:9876") and is_local_default("http://localhost:9876/")
    assert not is_local_default("127.0.0.1:9000") and not is_local_default("thoth.example.com")
    monkeypatch.setenv("THAMOS_EMBEDDED_PORT", "9000")
    assert is_local_default("127.0.0.1:9000")


def test_client_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THAMOS_TOKEN", raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    (tmp_path / ".thoth.yaml").write_text(
        "host: thoth.example.com\ntls_verify: false\ntls_ca_bundle: ca.pem\ntoken: from-file\n"
        "runtime_environments:\n  - name: x\n"
    )
    configuration = Configuration()
    client = build_api_client(configuration)
    assert client.configuration.host == "https://thoth.example.com/api/v1"
    assert client.configuration.verify_ssl is False
    assert client.configuration.ssl_ca_cert == str(bundle)
    assert client.configuration.auth_settings()["bearerAuth"]["value"] == "Bearer from-file"
    assert client.user_agent.startswith("thamos/")
    # Explicit settings (library use) win over the file; THAMOS_TOKEN over the file's token.
    configuration.explicit_host = "http://127.0.0.1:5000"
    configuration.tls_verify = True
    monkeypatch.setenv("THAMOS_TOKEN", "from-env")
    client = build_api_client(configuration)
    assert client.configuration.host == "http://127.0.0.1:5000/api/v1"
    assert client.configuration.verify_ssl is True
    assert client.configuration.auth_settings()["bearerAuth"]["value"] == "Bearer from-env"


def test_certifi_bundle_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".thoth.yaml").write_text("host: thoth.example.com\nruntime_environments:\n  - name: x\n")
    assert build_api_client(Configuration()).configuration.ssl_ca_cert == certifi.where()
