"""Server settings: the defaults, the settings file, the environment variables and the flags
(the options themselves are declared once, in userapi.options) made into one ServerSettings.

Precedence, lowest first: built-in defaults, an optional YAML/JSON settings file
(``--config`` / ``THAMOS_SERVER_CONFIG``), environment variables, explicit arguments.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from adviser.settings import BuildSettingError, check_build_limits
from userapi.options import OPTIONS, SETTINGS, IndexEntry, SettingsError

__all__ = ["IndexEntry", "ServerSettings", "SettingsError", "load_settings"]


def _default(key: str) -> Any:
    """The dataclass field of a setting, with the default userapi.options declares for it."""
    default = OPTIONS[key].default
    return field(default_factory=default) if callable(default) else field(default=default)


@dataclass(frozen=True)
class ServerSettings:
    """What the server runs with; userapi.options declares each setting (default, flag, variable)."""

    host: str = _default("host")
    port: int = _default("port")
    data_dir: Path = _default("data_dir")
    cache_dir: Path = _default("cache_dir")
    # SQLite file of the analyses store; None -> data_dir/analyses.db.
    db_path: Path | None = _default("db_path")
    # A team server: PostgreSQL holds the analyses and the queue of `thamos worker` (userapi.backends).
    database_url: str | None = _default("database_url")
    database_password_file: Path | None = _default("database_password_file")
    # Bearer token; when set, submitting analyses and reading their results require it.
    token: str | None = _default("token")
    certfile: Path | None = _default("certfile")
    keyfile: Path | None = _default("keyfile")
    workers: int = _default("workers")
    # Seconds an identical request answers with the earlier analysis (unless force=true).
    result_ttl: float = _default("result_ttl")
    max_request_bytes: int = _default("max_request_bytes")
    # Embedded mode: exit after this many seconds without requests or running analyses.
    idle_timeout: float | None = _default("idle_timeout")
    container_images: Path = _default("container_images")
    environments: tuple[dict[str, Any], ...] = _default("environments")
    # Extra indexes the adviser may consider besides the default one.
    known_indexes: tuple[IndexEntry, ...] = _default("known_indexes")
    # The index the adviser uses when a request names none; None -> pip's configuration.
    default_index: IndexEntry | None = _default("default_index")
    # Other URLs of the indexes above ({alias root: canonical URL}); see adviser.aliases.
    index_aliases: tuple[tuple[str, str], ...] = _default("index_aliases")
    # OSV advisories: a directory or archive, an http(s) URL refreshed every advisory_refresh seconds,
    # "none", or None for the snapshot shipped with thamos.
    advisory_db: Path | str | None = _default("advisory_db")
    advisory_refresh: float = _default("advisory_refresh")
    # Seconds one analysis may take (its index reads stop after it); None: no limit.
    analysis_deadline: float | None = _default("analysis_deadline")
    # Seconds index pages stay fresh in the adviser's cache.
    page_ttl: float = _default("page_ttl")
    # Allowed CORS origins; "*" lets browser tools call the API (no credentials are shared).
    cors_origins: tuple[str, ...] = _default("cors_origins")
    log_level: str = _default("log_level")
    # Sdists whose dependencies only a build tells: "always", "never" or the names allowed to build.
    builds: str | tuple[str, ...] = _default("builds")
    build_timeout: float = _default("build_timeout")  # seconds per build, build requirements included
    build_memory_mb: int = _default("build_memory_mb")  # address-space limit of the build processes
    build_max_source_mb: int = _default("build_max_source_mb")  # largest sdist downloaded to be built
    # Interpreters to build with besides those found on the machine (the target's version is used).
    build_pythons: tuple[str, ...] = _default("build_pythons")
    # Prescription repositories (directories, git URLs), compiled into the cache (userapi.prescriptions).
    prescriptions: tuple[str, ...] = _default("prescriptions")
    prescriptions_refresh: float = _default("prescriptions_refresh")
    # Units switched off ((name, reason), ...); None: the adviser's default list.
    prescriptions_denied: tuple[tuple[str, str], ...] | None = _default("prescriptions_denied")
    prescriptions_link_base: str = _default("prescriptions_link_base")

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
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("TLS needs both a certificate file and a key file (--certfile and --keyfile)")
        for option in SETTINGS:
            option.verify(getattr(self, option.key))
        try:  # adviser.settings owns the limits of a build
            check_build_limits(self.build_timeout, self.build_memory_mb, self.build_max_source_mb)
        except BuildSettingError as exc:
            key = str(exc).split(" ", 1)[0]
            raise SettingsError(str(exc), key if key in OPTIONS else None) from None
        return self

    def adviser_options(self) -> dict[str, Any]:
        """Plain, picklable keyword arguments for adviser.AdviserSettings (built in the worker)."""
        return {
            "cache_dir": str(self.cache_dir),
            "page_ttl": self.page_ttl,
            "known_indexes": [index.as_dict() for index in self.known_indexes],
            "index_aliases": dict(self.index_aliases),
            "default_index": self.default_index.as_dict() if self.default_index else None,
            "advisory_db": str(self.advisory_db) if self.advisory_db else None,
            "analysis_deadline": self.analysis_deadline,
            "builds": self.builds,
            "build_timeout": self.build_timeout,
            "build_memory_mb": self.build_memory_mb,
            "build_max_source_mb": self.build_max_source_mb,
            "build_pythons": list(self.build_pythons),
            **prescription_options(self),
        }


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Build validated settings from defaults, a settings file, the environment and `overrides`.

    Overrides whose value is None are ignored, so CLI flags left unset keep lower layers.
    """
    raw: dict[str, Any] = {}
    config_file = config_file or os.environ.get(OPTIONS["config_file"].env or "")
    if config_file:
        raw.update(_read_settings_file(Path(config_file).expanduser()))
    for option in SETTINGS:
        if option.env and os.environ.get(option.env):
            raw[option.key] = os.environ[option.env]
    raw.update({key: value for key, value in overrides.items() if value is not None})
    return _coerce(raw).validate()


def _read_settings_file(path: Path) -> dict[str, Any]:
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
    unknown = sorted(set(loaded) - {option.key for option in SETTINGS})
    if unknown:
        raise SettingsError(f"the settings file {path} has unknown settings: {', '.join(unknown)}")
    return loaded


def _coerce(raw: dict[str, Any]) -> ServerSettings:
    """Settings from raw values (text of variables and flags, values of the file); checked by validate."""
    values = {key: OPTIONS[key].read(value) for key, value in raw.items()}
    if values.get("container_images") is None:
        values.pop("container_images", None)
    return replace(ServerSettings(), **values)


def prescription_options(settings: ServerSettings) -> dict[str, Any]:
    """The adviser's prescription settings: where the compiled knowledge base of the configured
    sources is (userapi.prescriptions compiles it there), the units switched off, the link base."""
    if not settings.prescriptions:
        return {}
    from adviser.prescriptions.compiled import index_path
    from adviser.prescriptions.sources import source_label

    labels = [source_label(text) for text in settings.prescriptions]
    denied = settings.prescriptions_denied
    return {
        "prescriptions": str(index_path(settings.cache_dir, labels)),
        "prescriptions_denied": dict(denied) if denied is not None else None,
        "prescriptions_link_base": settings.prescriptions_link_base,
    }
