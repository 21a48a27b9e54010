"""Build the generated client's ``Configuration``/``ApiClient`` from thamos' configuration.

This is the one place where ``swagger_client`` is configured (the kubernetes-client split): the
base URL, TLS verification and CA bundle, the bearer token and the user agent.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from urllib.parse import urlsplit

import certifi

from . import __version__, settings
from .config import Configuration, config
from .exceptions import BackendUnreachableError, ConfigurationError
from .redact import redact_url_credentials

_LOGGER = logging.getLogger(__name__)

API_PATH = "/api/v1"
EMBEDDED_HOST = "127.0.0.1"
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
# Errors the embedded starter may raise that are reported as "backend unreachable".
_EMBEDDED_START_ERRORS = (OSError, RuntimeError, TimeoutError)


def is_local_default(host: str | None) -> bool:
    """True when no host is configured or it names the embedded backend's default address."""
    if not host:
        return True
    try:
        parts = urlsplit(host if "://" in host else f"http://{host}")
        port = parts.port
    except ValueError:
        return False
    embedded_port = settings.port("THAMOS_EMBEDDED_PORT")
    return (parts.hostname or "") in _LOCAL_NAMES and port == embedded_port and parts.path in ("", "/", API_PATH)


def normalize_host(host: str) -> str:
    """Base URL of the API for a configured host.

    ``https://x`` and ``http://x`` are kept; a bare host gets https, except local names (localhost,
    127.0.0.1, ::1) which get http. ``/api/v1`` is appended unless already there.
    """
    host = host.strip()
    if not host:
        raise ConfigurationError("host is empty")
    if "://" not in host:
        bare_name = host.split("/", 1)[0].rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        scheme = "http" if bare_name in _LOCAL_NAMES else "https"
        host = f"{scheme}://{host}"
    try:
        parts = urlsplit(host)
    except ValueError as exc:
        raise ConfigurationError(f"host {host!r} is not a valid address: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"host {host!r} is not an http:// or https:// address")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ConfigurationError(f"host {host!r} has an invalid port") from None
    if not parts.hostname:
        raise ConfigurationError(f"host {host!r} names no host")
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path = path + API_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def start_backend_early(configuration: Configuration | None = None) -> None:
    """Start the embedded backend now when this configuration will use it (see
    embedded.start_in_background); a configured host is left alone."""
    configuration = configuration or config
    known, host = configuration.peek_host()
    if not is_local_default(host if known else configuration.host):
        return
    try:
        from .embedded import start_in_background
    except ImportError:
        return  # resolve_base_url says what is missing
    start_in_background()


def resolve_base_url(configuration: Configuration | None = None) -> str:
    """The API base URL to talk to, starting the embedded backend when no host is configured."""
    configuration = configuration or config
    host = configuration.host
    if is_local_default(host):
        try:
            # http.client and subprocess: about 20 ms that only a command without a configured host needs.
            from .embedded import ensure_local_server
        except ImportError as exc:
            raise BackendUnreachableError(
                "No host configured and the embedded backend is not available "
                f"(install thamos with the 'server' extra): {exc}"
            ) from None
        _LOGGER.debug("No remote host configured, using the embedded local backend")
        try:
            host = ensure_local_server()
        except _EMBEDDED_START_ERRORS as exc:
            raise BackendUnreachableError(f"Cannot start the embedded local backend: {exc}") from None
    return normalize_host(host)


def user_agent() -> str:
    return f"thamos/{__version__} python/{platform.python_version()} ({sys.platform})"


def build_api_client(configuration: Configuration | None = None):
    """A ``swagger_client.ApiClient`` configured for the selected backend."""
    import swagger_client  # about 0.12 s: paid only by commands that talk to a backend

    configuration = configuration or config
    base_url = resolve_base_url(configuration)
    client_configuration = swagger_client.Configuration(host=base_url)
    client_configuration.verify_ssl = configuration.get_tls_verify()
    bundle = configuration.tls_ca_bundle
    if bundle and not os.path.isfile(bundle):
        raise ConfigurationError(f"tls_ca_bundle: {bundle} is not a file (a PEM file of CA certificates)")
    client_configuration.ssl_ca_cert = bundle or certifi.where()
    # thamos retries by itself (only on transient errors); urllib3 must not retry underneath.
    client_configuration.retries = False
    token = configuration.get_token()
    if token:
        client_configuration.access_token = token
    if base_url.startswith("http://") and token and not is_local_url(base_url):
        _LOGGER.warning("Sending the token over plain http to %s", redact_url_credentials(base_url))
    if (
        base_url.startswith("https://")
        and not client_configuration.verify_ssl
        and not settings.flag("THAMOS_DISABLE_TLS_WARNING")
    ):
        _LOGGER.warning("TLS verification is turned off (tls_verify: false)")
        import urllib3  # 30 ms at the top of the module; here swagger_client has loaded it already

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    api_client = swagger_client.ApiClient(client_configuration)
    api_client.user_agent = user_agent()
    return api_client


def is_local_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOCAL_NAMES
