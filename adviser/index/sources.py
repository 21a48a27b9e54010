"""Package indexes: what they are and which ones pip's configuration points to.

The default index is never written down here: it comes from ``PIP_INDEX_URL``, else from pip's
configuration files, else from pip's own built-in default read at run time. Only http(s) indexes
are used; other schemes (``file://`` directories, ...) are skipped with a logged reason.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from stackfiles.pipfile import pip_default_index_url

Log = Callable[[str], None]

# The name pipenv gives the built-in default index; kept so Pipfile hashes agree with pipenv's.
DEFAULT_SOURCE_NAME = "pypi"
# pip reads this system-wide file after the XDG ones (on every Unix).
SYSTEM_PIP_CONFIG = Path("/etc/pip.conf")


@dataclass(frozen=True)
class IndexSource:
    """One simple-API index: ``url`` is its root (the page of project ``foo`` is ``<url>/foo/``).

    ``url`` is the source as the Pipfile writes it, which may hold ``${VAR}`` placeholders; it is
    the source's identity (locks, cache keys, messages). ``fetch_url`` is the same URL expanded by
    the client, credentials included: it is used only to reach the index (see ``network_url``),
    never compared, printed or stored.
    """

    name: str
    url: str
    verify_ssl: bool = True
    fetch_url: str | None = field(default=None, compare=False, repr=False)

    @property
    def network_url(self) -> str:
        """The URL to connect to, credentials included (for HTTP sessions and installers only)."""
        return self.fetch_url or self.url

    @property
    def private(self) -> bool:
        """True when the index is reached with credentials (its pages are then never cached)."""
        return self.fetch_url is not None or credentials_of(self.url) is not None

    def page_url(self, project: str) -> str:
        """URL of the simple page of ``project`` (PEP 503 normalized name, trailing slash), without
        credentials: the HTTP session adds those (see ``HttpSession.add_credentials``)."""
        return f"{without_credentials(self.network_url).rstrip('/')}/{canonicalize_name(project)}/"

    def as_pipfile_source(self) -> dict:
        """The ``[[source]]`` table of a Pipfile (and ``_meta.sources`` item of a lock)."""
        return {"name": self.name, "url": self.url, "verify_ssl": self.verify_ssl}


def without_credentials(url: str) -> str:
    """``url`` with its user-info part (``user:password@``) removed."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def credentials_of(url: str) -> tuple[str, str] | None:
    """(user, password) of a URL's user-info part (percent-decoded), None when it has none."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return None
    userinfo = netloc.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def is_http_url(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def source_name_for_url(url: str) -> str:
    """A short, stable source name for an index URL ("pypi" for pip's own default)."""
    try:
        if url.rstrip("/") == pip_default_index_url().rstrip("/"):
            return DEFAULT_SOURCE_NAME
    except RuntimeError:
        pass
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]  # never put credentials into a name
    return re.sub(r"[^A-Za-z0-9]+", "-", netloc).strip("-").lower() or "index"


def pip_config_files() -> list[Path]:
    """pip's configuration files in the order pip reads them (later files override earlier ones).

    Mirrors pip: ``$PIP_CONFIG_FILE`` first (lowest priority; ``/dev/null`` disables every file),
    then the global files, then the per-user files (skipped when ``$PIP_CONFIG_FILE`` exists), then
    the one of the running environment (``sys.prefix/pip.conf``).
    """
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    if env_file:
        files.append(Path(env_file))
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(SYSTEM_PIP_CONFIG)
    if not (env_file and Path(env_file).exists()):
        home = Path(os.path.expanduser("~"))
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    return files


def pip_config_value(key: str, log: Log | None = None) -> str | None:
    """The value pip's ``install`` command would use for ``key``: environment, then config files.

    ``PIP_<KEY>`` wins; otherwise the last file setting it wins and ``[install]`` beats ``[global]``.
    """
    env_value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
    if env_value:
        return env_value
    merged: dict[tuple[str, str], str] = {}
    for path in pip_config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError) as exc:
            if log:
                log(f"index: ignoring unreadable pip configuration {path}: {exc}")
            continue
        for section in ("global", "install"):
            if parser.has_option(section, key):
                merged[(section, key)] = parser.get(section, key)
    for section in ("install", "global"):
        value = merged.get((section, key), "").strip()
        if value:
            return value
    return None


def _trusted_hosts(log: Log | None) -> set[str]:
    value = pip_config_value("trusted-host", log) or ""
    return {host.lower() for host in value.split()}


def _source_for_url(url: str, trusted: set[str], name: str | None = None) -> IndexSource:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    hostport = f"{host}:{parts.port}" if parts.port else host
    verify = not (host in trusted or hostport in trusted)
    return IndexSource(name=name or source_name_for_url(url), url=url, verify_ssl=verify)


def _usable(url: str, what: str, log: Log | None) -> bool:
    if is_http_url(url):
        return True
    if log:
        log(f"index: ignoring {what} {url!r}: only http(s) indexes are used")
    return False


def default_index_source(log: Log | None = None) -> IndexSource:
    """The index pip would install from: PIP_INDEX_URL, pip.conf ``index-url``, else pip's default."""
    configured = pip_config_value("index-url", log)
    trusted = _trusted_hosts(log)
    if configured and _usable(configured, "index-url", log):
        return _source_for_url(configured, trusted)
    return _source_for_url(pip_default_index_url(), trusted)


def extra_index_sources(log: Log | None = None) -> list[IndexSource]:
    """Extra indexes from PIP_EXTRA_INDEX_URL / ``extra-index-url`` (http(s) ones only)."""
    value = pip_config_value("extra-index-url", log) or ""
    trusted = _trusted_hosts(log)
    sources: list[IndexSource] = []
    seen: set[str] = set()
    for url in value.split():
        if url in seen or not _usable(url, "extra-index-url", log):
            continue
        seen.add(url)
        sources.append(_source_for_url(url, trusted))
    return _unique_names(sources)


def _unique_names(sources: Iterable[IndexSource]) -> list[IndexSource]:
    """Suffix repeated names ("-2", "-3") so every source can be referenced by name."""
    result: list[IndexSource] = []
    used: set[str] = set()
    for source in sources:
        name, counter = source.name, 2
        while name in used:
            name, counter = f"{source.name}-{counter}", counter + 1
        used.add(name)
        result.append(source if name == source.name else IndexSource(name, source.url, source.verify_ssl))
    return result


def ca_bundle() -> str | None:
    """CA bundle for TLS: pip's ``cert`` setting (PIP_CERT, pip.conf), the usual env vars, certifi."""
    for candidate in (
        pip_config_value("cert"),
        os.environ.get("SSL_CERT_FILE"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    try:
        import certifi
    except ImportError:
        return None  # urllib3 then uses the system's default trust store
    return certifi.where()
