"""Server settings: defaults, environment variables and command-line flags in one place.

Precedence, lowest first: built-in defaults, an optional YAML/JSON settings file
(``--config`` / ``THAMOS_SERVER_CONFIG``), environment variables, explicit arguments.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from stackfiles.flags import parse_flag

DATA_DIR = Path(__file__).parent / "data"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9876


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names it."""


def default_data_dir() -> Path:
    """Where analyses are kept: THAMOS_DATA_DIR, else $XDG_DATA_HOME/thamos, else ~/.local/share/thamos."""
    if os.environ.get("THAMOS_DATA_DIR"):
        return Path(os.environ["THAMOS_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "thamos"


def default_cache_dir() -> Path:
    """Where the adviser caches index pages and metadata: THAMOS_CACHE_DIR, else XDG cache."""
    if os.environ.get("THAMOS_CACHE_DIR"):
        return Path(os.environ["THAMOS_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "thamos"


def _default_environments() -> list[dict[str, Any]]:
    """Runtime environments the adviser can resolve for: CPython 3.9-3.13 on a few Linux systems."""
    systems = [("rhel", "9"), ("fedora", "40"), ("ubuntu", "24.04"), ("debian", "12")]
    environments = []
    for os_name, os_version in systems:
        for minor in range(9, 14):
            for platform in ("linux-x86_64", "linux-aarch64"):
                environments.append(
                    {
                        "os_name": os_name,
                        "os_version": os_version,
                        "python_version": f"3.{minor}",
                        "platform": platform,
                        "cuda_version": None,
                    }
                )
    return environments


@dataclass(frozen=True)
class IndexEntry:
    """A package index the server knows about (simple API root URL)."""

    name: str
    url: str
    verify_ssl: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "verify_ssl": self.verify_ssl}


@dataclass(frozen=True)
class ServerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    # SQLite file of the analyses store; None -> data_dir/analyses.db.
    db_path: Path | None = None
    # Bearer token; when set, submitting analyses and reading their results require it.
    token: str | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    workers: int = 2
    # Seconds an identical request answers with the earlier analysis (unless force=true).
    result_ttl: float = 3600.0
    max_request_bytes: int = 4 * 1024 * 1024
    # Embedded mode: exit after this many seconds without requests or running analyses.
    idle_timeout: float | None = None
    container_images: Path = DATA_DIR / "container_images.yaml"
    environments: tuple[dict[str, Any], ...] = field(default_factory=lambda: tuple(_default_environments()))
    # Extra indexes the adviser may consider besides the default one.
    known_indexes: tuple[IndexEntry, ...] = ()
    # The index the adviser uses when a request names none; None -> pip's configuration.
    default_index: IndexEntry | None = None
    # Other URLs of the indexes above ({alias root: canonical URL}); see adviser.aliases.
    index_aliases: tuple[tuple[str, str], ...] = ()
    advisory_db: Path | None = field(
        default_factory=lambda: (
            Path(os.environ["THAMOS_ADVISORY_DB"]) if os.environ.get("THAMOS_ADVISORY_DB") else None
        )
    )
    # Seconds index pages stay fresh in the adviser's cache.
    page_ttl: float = 3600.0
    # Allowed CORS origins; "*" lets browser tools call the API (no credentials are shared).
    cors_origins: tuple[str, ...] = ("*",)
    log_level: str = "info"
    # Sdists whose dependencies only a build tells: "always", "never" or the names allowed to build.
    builds: str | tuple[str, ...] = "always"
    build_timeout: float = 120.0  # seconds per build, installing its build requirements included
    build_memory_mb: int = 2048  # address-space limit of the build processes
    build_max_source_mb: int = 1024  # largest sdist downloaded to be built
    # Interpreters to build with besides those found on the machine (the target's version is used).
    build_pythons: tuple[str, ...] = ()

    @property
    def database(self) -> Path:
        return self.db_path or (self.data_dir / "analyses.db")

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{scheme}://{host}:{self.port}"

    def validate(self) -> ServerSettings:
        """Check values that would otherwise fail late and obscurely; return self."""
        if not 0 < self.port < 65536:
            raise SettingsError(f"port {self.port} is not between 1 and 65535")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, got {self.workers}")
        if self.max_request_bytes < 1024:
            raise SettingsError(f"max_request_bytes must be at least 1024, got {self.max_request_bytes}")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise SettingsError(f"idle_timeout must be positive, got {self.idle_timeout}")
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("TLS needs both a certificate file and a key file (--certfile and --keyfile)")
        for label, path in (("certificate file", self.certfile), ("key file", self.keyfile)):
            if path is not None and not Path(path).is_file():
                raise SettingsError(f"the {label} {path} does not exist")
        if not Path(self.container_images).is_file():
            raise SettingsError(f"the container images catalogue {self.container_images} does not exist")
        for number, environment in enumerate(self.environments, start=1):
            missing = [key for key in ("os_name", "os_version", "python_version") if not environment.get(key)]
            if missing:
                raise SettingsError(f"environment {number} of the settings lacks {', '.join(missing)}")
        if self.token is not None and not self.token.strip():
            raise SettingsError("the server token is empty")
        self._validate_builds()
        return self

    def _validate_builds(self) -> None:
        from adviser.settings import BuildSettingError, check_build_limits, parse_builds

        try:
            parse_builds(self.builds)
            check_build_limits(self.build_timeout, self.build_memory_mb, self.build_max_source_mb)
        except BuildSettingError as exc:
            raise SettingsError(str(exc)) from None
        for python in self.build_pythons:
            path = Path(python)
            if not path.is_absolute() or not path.is_file() or not os.access(path, os.X_OK):
                raise SettingsError(f"build python {python} is not the absolute path of an executable file")

    def adviser_options(self) -> dict[str, Any]:
        """Plain, picklable keyword arguments for adviser.AdviserSettings (built in the worker)."""
        return {
            "cache_dir": str(self.cache_dir),
            "page_ttl": self.page_ttl,
            "known_indexes": [index.as_dict() for index in self.known_indexes],
            "index_aliases": dict(self.index_aliases),
            "default_index": self.default_index.as_dict() if self.default_index else None,
            "advisory_db": str(self.advisory_db) if self.advisory_db else None,
            "builds": self.builds,
            "build_timeout": self.build_timeout,
            "build_memory_mb": self.build_memory_mb,
            "build_max_source_mb": self.build_max_source_mb,
            "build_pythons": list(self.build_pythons),
        }


def _parse_index(value: Any, what: str) -> IndexEntry:
    """An index from "URL", "NAME=URL" or {name, url, verify_ssl}."""
    if isinstance(value, dict):
        if not value.get("url"):
            raise SettingsError(f"{what} entry {value!r} has no url")
        return IndexEntry(
            name=str(value.get("name") or _name_from_url(value["url"])),
            url=str(value["url"]),
            verify_ssl=_verify_ssl(value.get("verify_ssl", True), what),
        )
    if isinstance(value, str) and value.strip():
        name, sep, url = value.partition("=")
        if sep and "://" not in name:
            return IndexEntry(name=name.strip(), url=url.strip())
        return IndexEntry(name=_name_from_url(value.strip()), url=value.strip())
    raise SettingsError(f"{what} entry {value!r} is neither a URL nor a mapping with a url")


def _index_aliases(value: Any) -> tuple[tuple[str, str], ...]:
    from adviser.aliases import IndexAliasError, parse_index_aliases

    try:
        return tuple(parse_index_aliases(value).items())
    except IndexAliasError as exc:
        raise SettingsError(f"index_aliases: {exc}") from None


def _verify_ssl(value: Any, what: str) -> bool:
    try:
        return parse_flag(value, name=f"{what} verify_ssl")
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _name_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or "index"
    return host.replace(".", "-")


def _builds(value: Any) -> str | tuple[str, ...]:
    from adviser.settings import BuildSettingError, parse_builds

    try:
        return parse_builds(value)
    except BuildSettingError as exc:
        raise SettingsError(str(exc)) from None


def _paths(value: Any, what: str) -> tuple[str, ...]:
    """Paths from a list, or from one string separated like PATH (os.pathsep)."""
    if isinstance(value, str):
        items = value.split(os.pathsep)
    elif isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        raise SettingsError(f"{what} must be a list of paths, got {value!r}")
    return tuple(str(Path(item.strip()).expanduser()) for item in items if item.strip())


def _float_or_none(value: Any, what: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "0")):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{what} must be a number of seconds, got {value!r}") from None


def _number(value: Any, what: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        expected = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{what} must be {expected}, got {value!r}") from None


# Environment variables read by load_settings, and the setting each one feeds.
ENVIRONMENT_VARIABLES = {
    "THAMOS_SERVER_HOST": "host",
    "THAMOS_SERVER_PORT": "port",
    "THAMOS_DATA_DIR": "data_dir",
    "THAMOS_CACHE_DIR": "cache_dir",
    "THAMOS_SERVER_DB": "db_path",
    "THAMOS_SERVER_TOKEN": "token",
    "THAMOS_SERVER_CERTFILE": "certfile",
    "THAMOS_SERVER_KEYFILE": "keyfile",
    "THAMOS_SERVER_WORKERS": "workers",
    "THAMOS_RESULT_TTL": "result_ttl",
    "THAMOS_MAX_REQUEST_BYTES": "max_request_bytes",
    "THAMOS_IDLE_TIMEOUT": "idle_timeout",
    "THAMOS_CONTAINER_IMAGES": "container_images",
    "THAMOS_DEFAULT_INDEX": "default_index",
    "THAMOS_KNOWN_INDEXES": "known_indexes",
    "THAMOS_INDEX_ALIASES": "index_aliases",
    "THAMOS_ADVISORY_DB": "advisory_db",
    "THAMOS_PAGE_TTL": "page_ttl",
    "THAMOS_BUILDS": "builds",
    "THAMOS_BUILD_TIMEOUT": "build_timeout",
    "THAMOS_BUILD_MEMORY": "build_memory_mb",
    "THAMOS_BUILD_MAX_SOURCE": "build_max_source_mb",
    "THAMOS_BUILD_PYTHONS": "build_pythons",
}


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Build validated settings from defaults, a settings file, the environment and `overrides`.

    Overrides whose value is None are ignored, so CLI flags left unset keep lower layers.
    """
    raw: dict[str, Any] = {}
    config_file = config_file or os.environ.get("THAMOS_SERVER_CONFIG")
    if config_file:
        path = Path(config_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"cannot read the settings file {path}: {exc.strerror}") from None
        try:
            loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise SettingsError(f"the settings file {path} is not valid YAML/JSON: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"the settings file {path} must hold a mapping of setting names")
        known = {f.name for f in fields(ServerSettings)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise SettingsError(f"the settings file {path} has unknown settings: {', '.join(unknown)}")
        raw.update(loaded)
    for variable, name in ENVIRONMENT_VARIABLES.items():
        if os.environ.get(variable):
            raw[name] = os.environ[variable]
    raw.update({key: value for key, value in overrides.items() if value is not None})
    return _coerce(raw).validate()


def _coerce(raw: dict[str, Any]) -> ServerSettings:
    settings = ServerSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("port", "workers", "max_request_bytes", "build_memory_mb", "build_max_source_mb"):
            values[key] = _number(value, key, int)
        elif key in ("result_ttl", "page_ttl", "build_timeout"):
            values[key] = _number(value, key, float)
        elif key == "builds":
            values[key] = _builds(value)
        elif key == "build_pythons":
            values[key] = _paths(value, key)
        elif key == "idle_timeout":
            values[key] = _float_or_none(value, key)
        elif key in (
            "data_dir",
            "cache_dir",
            "db_path",
            "certfile",
            "keyfile",
            "container_images",
            "advisory_db",
        ):
            values[key] = Path(str(value)).expanduser() if value not in (None, "") else None
        elif key == "default_index":
            values[key] = _parse_index(value, "default_index") if value else None
        elif key == "index_aliases":
            values[key] = _index_aliases(value)
        elif key == "known_indexes":
            items = value.split(",") if isinstance(value, str) else list(value or [])
            values[key] = tuple(_parse_index(item, "known_indexes") for item in items if item)
        elif key == "environments":
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise SettingsError("environments must be a list of mappings")
            values[key] = tuple(value)
        elif key == "cors_origins":
            values[key] = tuple([value] if isinstance(value, str) else value)
        elif key == "token":
            values[key] = str(value)
        else:
            values[key] = value
    if values.get("container_images") is None:
        values.pop("container_images", None)
    return replace(settings, **values)
