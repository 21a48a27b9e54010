"""Every option of the server, declared once: its command-line flag, environment variable,
settings-file key, how a value is read and checked, its default and its help.

``userapi.settings`` reads the settings file and the environment through this table;
``userapi.cli`` builds the flags of ``python -m userapi`` and ``thamos serve`` from it.
A value is read (``convert``: text or a settings-file value to the setting, or a SettingsError
naming the setting) and checked (``check``: the setting's own limits) the same way wherever it
comes from; ``ServerSettings.validate`` runs the checks, and the one across settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adviser.aliases import IndexAliasError, parse_index_aliases
from adviser.settings import BuildSettingError, parse_builds
from stackfiles.flags import parse_flag

DATA_DIR = Path(__file__).parent / "data"

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names it (``key``: which one)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class IndexEntry:
    """A package index the server knows about (simple API root URL)."""

    name: str
    url: str
    verify_ssl: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "verify_ssl": self.verify_ssl}


# -- defaults computed when settings are made -------------------------------------------------


def default_data_dir() -> Path:
    """Where analyses are kept: $XDG_DATA_HOME/thamos, else ~/.local/share/thamos."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "thamos"


def default_cache_dir() -> Path:
    """Where the adviser caches index pages and metadata: $XDG_CACHE_HOME/thamos, else ~/.cache/thamos."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "thamos"


def default_environments() -> tuple[dict[str, Any], ...]:
    """Runtime environments the adviser can resolve for: CPython 3.9-3.13 on a few Linux systems."""
    systems = [("rhel", "9"), ("fedora", "40"), ("ubuntu", "24.04"), ("debian", "12")]
    return tuple(
        {
            "os_name": os_name,
            "os_version": os_version,
            "python_version": f"3.{minor}",
            "platform": platform,
            "cuda_version": None,
        }
        for os_name, os_version in systems
        for minor in range(9, 14)
        for platform in ("linux-x86_64", "linux-aarch64")
    )


# -- reading values: (value, setting name) -> setting ------------------------------------------


def _as_given(value: Any, _key: str) -> Any:
    return value


def _text(value: Any, _key: str) -> str:
    return str(value)


def _whole(value: Any, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key} must be a whole number, got {value!r}") from None


def _number(value: Any, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key} must be a number, got {value!r}") from None


def _seconds_or_none(value: Any, key: str) -> float | None:
    """Seconds; none, 0 or nothing means no limit."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "0")):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key} must be a number of seconds, got {value!r}") from None


def _path(value: Any, _key: str) -> Path | None:
    return Path(str(value)).expanduser() if value not in (None, "") else None


def _advisory_db(value: Any, key: str) -> Path | str | None:
    """A directory or archive (a Path), an http(s) URL of an OSV zip, or "none" (no advisory data)."""
    if value in (None, ""):
        return None  # the snapshot shipped with thamos
    text = str(value).strip()
    if text.lower() == "none" or text.lower().startswith(("http://", "https://")):
        return text.lower() if text.lower() == "none" else text
    if "://" in text:
        raise SettingsError(f"{key}: only http:// and https:// URLs can be fetched, got {text.split('://')[0]}://")
    return Path(text).expanduser()


def _paths(value: Any, key: str) -> tuple[str, ...]:
    """Paths from a list, or from one string separated like PATH (os.pathsep)."""
    if isinstance(value, str):
        items = value.split(os.pathsep)
    elif isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        raise SettingsError(f"{key} must be a list of paths, got {value!r}")
    return tuple(str(Path(item.strip()).expanduser()) for item in items if item.strip())


def _builds(value: Any, _key: str) -> str | tuple[str, ...]:
    try:
        return parse_builds(value)
    except BuildSettingError as exc:
        raise SettingsError(str(exc)) from None


def _name_from_url(url: str) -> str:
    host = urlsplit(url).hostname or "index"
    return host.replace(".", "-")


def parse_index(value: Any, key: str) -> IndexEntry:
    """An index from "URL", "NAME=URL" or {name, url, verify_ssl}."""
    if isinstance(value, dict):
        if not value.get("url"):
            raise SettingsError(f"{key} entry {value!r} has no url")
        try:
            verify_ssl = parse_flag(value.get("verify_ssl", True), name=f"{key} verify_ssl")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        name = str(value.get("name") or _name_from_url(value["url"]))
        return IndexEntry(name=name, url=str(value["url"]), verify_ssl=verify_ssl)
    if isinstance(value, str) and value.strip():
        name, sep, url = value.partition("=")
        if sep and "://" not in name:
            return IndexEntry(name=name.strip(), url=url.strip())
        return IndexEntry(name=_name_from_url(value.strip()), url=value.strip())
    raise SettingsError(f"{key} entry {value!r} is neither a URL nor a mapping with a url")


def _database_url(value: Any, key: str) -> str | None:
    """A postgresql:// URL libpq can read; the message shows it without its password."""
    from userapi.database import DatabaseSettingError, check_url, is_database_url, redact_url

    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if not is_database_url(text):
        raise SettingsError(f"{key} must be a postgresql:// URL (the SQLite file is --db), got {redact_url(text)!r}")
    try:
        return check_url(text)
    except DatabaseSettingError as exc:
        raise SettingsError(str(exc)) from None


def _index_or_none(value: Any, key: str) -> IndexEntry | None:
    return parse_index(value, key) if value else None


def _indexes(value: Any, key: str) -> tuple[IndexEntry, ...]:
    """Indexes from a comma-separated string (a variable) or a list (a file, repeated flags)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(parse_index(item, key) for item in items if item)


def _index_aliases(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(parse_index_aliases(value).items())
    except IndexAliasError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def _mappings(value: Any, key: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SettingsError(f"{key} must be a list of mappings")
    return tuple(value)


def _sources(value: Any, key: str) -> tuple[str, ...]:
    """Prescription sources (paths or git URLs) from a list, or one string separated by commas."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise SettingsError(f"{key} must be a list of paths or git URLs, got {value!r}")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _denied(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    """Units switched off: {name: reason}, a list of NAME[=REASON], or one string of them separated by ';'."""
    if isinstance(value, dict):
        pairs = [(str(name), str(reason or "disabled by the server's settings")) for name, reason in value.items()]
    elif isinstance(value, (str, list, tuple)):
        items = value.split(";") if isinstance(value, str) else value
        pairs = []
        for item in items:
            name, _, reason = str(item).partition("=")
            if name.strip():
                pairs.append((name.strip(), reason.strip() or "disabled by the server's settings"))
    else:
        raise SettingsError(f"{key} must map unit names to reasons (or list NAME=REASON), got {value!r}")
    for name, _reason in pairs:
        if "." not in name:
            raise SettingsError(f"{key}: {name!r} is not a full unit name (<prescription name>.<unit name>)")
    return tuple(pairs)


def _words(value: Any, _key: str) -> tuple[str, ...]:
    return tuple([value] if isinstance(value, str) else value)


# -- checking values: (setting, setting name) -> None or SettingsError -------------------------


def _port_range(port: int, _key: str) -> None:
    if not 0 < port < 65536:
        raise SettingsError(f"port {port} is not between 1 and 65535")


def _at_least(minimum: int) -> Callable[[int, str], None]:
    def check(value: int, key: str) -> None:
        if value < minimum:
            raise SettingsError(f"{key} must be at least {minimum}, got {value}")

    return check


def _positive_or_none(value: float | None, key: str) -> None:
    if value is not None and value <= 0:
        raise SettingsError(f"{key} must be positive, got {value}")


def _existing_file(label: str) -> Callable[[Path | None, str], None]:
    def check(path: Path | None, _key: str) -> None:
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"the {label} {path} does not exist")

    return check


def _not_empty_token(token: str | None, _key: str) -> None:
    if token is not None and not token.strip():
        raise SettingsError("the server token is empty")


def _log_level(level: str, key: str) -> None:
    if level not in LOG_LEVELS:
        raise SettingsError(f"{key} must be one of {', '.join(LOG_LEVELS)}, got {level!r}")


def _described_environments(environments: tuple[dict[str, Any], ...], _key: str) -> None:
    for number, environment in enumerate(environments, start=1):
        missing = [key for key in ("os_name", "os_version", "python_version") if not environment.get(key)]
        if missing:
            raise SettingsError(f"environment {number} of the settings lacks {', '.join(missing)}")


def _executables(pythons: tuple[str, ...], _key: str) -> None:
    for python in pythons:
        path = Path(python)
        if not path.is_absolute() or not path.is_file() or not os.access(path, os.X_OK):
            raise SettingsError(f"build python {python} is not the absolute path of an executable file")


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option of the server. ``key`` is the ServerSettings field and the settings-file key,
    unless ``setting`` is False (an option of the command only, such as --config)."""

    key: str
    help: str
    convert: Callable[[Any, str], Any] = _as_given
    check: Callable[[Any, str], None] | None = None
    default: Any = None  # a callable is called each time settings are made
    flag: str | None = None
    env: str | None = None
    metavar: str | None = None
    repeatable: bool = False  # the flag may be given several times
    setting: bool = True
    shown_default: str | None = None  # the default in words, where it is computed

    def read(self, value: Any) -> Any:
        """The setting from a flag's, variable's or settings file's value (checked by ``verify``)."""
        try:
            return self.convert(value, self.key)
        except SettingsError as exc:
            raise SettingsError(str(exc), self.key) from None

    def verify(self, setting: Any) -> None:
        """Raise SettingsError when the setting is outside its own limits."""
        if self.check is None or setting is None:
            return
        try:
            self.check(setting, self.key)
        except SettingsError as exc:
            raise SettingsError(str(exc), self.key) from None

    def help_text(self) -> str:
        """The flag's help: what it does, then its default and its variable."""
        notes = []
        default = self.default
        if self.shown_default:
            notes.append(f"default {self.shown_default}")
        elif default not in (None, (), "") and not callable(default):
            notes.append(f"default {default:g}" if isinstance(default, float) else f"default {default}")
        if self.env:
            notes.append(self.env)
        return f"{self.help} ({'; '.join(notes)})." if notes else f"{self.help}."


def _table(*options: Option) -> dict[str, Option]:
    return {option.key: option for option in options}


OPTIONS: dict[str, Option] = _table(
    Option(
        "host",
        help="Address to listen on",
        convert=_text,
        default="127.0.0.1",
        flag="--host",
        env="THAMOS_SERVER_HOST",
        metavar="ADDRESS",
    ),
    Option(
        "port",
        help="Port to listen on",
        convert=_whole,
        check=_port_range,
        default=9876,
        flag="--port",
        env="THAMOS_SERVER_PORT",
        metavar="PORT",
    ),
    Option(
        "data_dir",
        help="Where the analyses database lives",
        convert=_path,
        default=default_data_dir,
        shown_default="$XDG_DATA_HOME/thamos",
        flag="--data-dir",
        env="THAMOS_DATA_DIR",
        metavar="DIR",
    ),
    Option(
        "cache_dir",
        help="Where the adviser caches index data",
        convert=_path,
        default=default_cache_dir,
        shown_default="$XDG_CACHE_HOME/thamos",
        flag="--cache-dir",
        env="THAMOS_CACHE_DIR",
        metavar="DIR",
    ),
    Option(
        "db_path",
        help="SQLite file of the analyses",
        convert=_path,
        shown_default="DATA_DIR/analyses.db",
        flag="--db",
        env="THAMOS_SERVER_DB",
        metavar="FILE",
    ),
    Option(
        "database_url",
        help="PostgreSQL database of a team server (postgresql://USER@HOST/NAME; its password better in "
        "--database-password-file or PGPASSWORD): analyses then run in `thamos worker` processes",
        convert=_database_url,
        shown_default="none: SQLite and workers in this process",
        flag="--database",
        env="THAMOS_DATABASE_URL",
        metavar="URL",
    ),
    Option(
        "database_password_file",
        help="Read the PostgreSQL password from this file (keeps it out of URLs and the process list)",
        convert=_path,
        check=_existing_file("database password file"),
        flag="--database-password-file",
        env="THAMOS_DATABASE_PASSWORD_FILE",
        metavar="FILE",
    ),
    Option(
        "token",
        help="Require this bearer token to submit and read analyses",
        convert=_text,
        check=_not_empty_token,
        flag="--token",
        env="THAMOS_SERVER_TOKEN",
    ),
    Option(
        "token_file",
        help="Read the token from this file (keeps it out of the process list)",
        flag="--token-file",
        metavar="FILE",
        setting=False,
    ),
    Option(
        "certfile",
        help="TLS certificate (PEM); serve HTTPS",
        convert=_path,
        check=_existing_file("certificate file"),
        flag="--certfile",
        env="THAMOS_SERVER_CERTFILE",
        metavar="FILE",
    ),
    Option(
        "keyfile",
        help="TLS private key (PEM)",
        convert=_path,
        check=_existing_file("key file"),
        flag="--keyfile",
        env="THAMOS_SERVER_KEYFILE",
        metavar="FILE",
    ),
    Option(
        "workers",
        help="Analyses run in parallel",
        convert=_whole,
        check=_at_least(1),
        default=2,
        flag="--workers",
        env="THAMOS_SERVER_WORKERS",
        metavar="N",
    ),
    Option(
        "result_ttl",
        help="Seconds an identical request reuses an earlier analysis (unless force=true)",
        convert=_number,
        default=3600.0,
        flag="--result-ttl",
        env="THAMOS_RESULT_TTL",
        metavar="SECONDS",
    ),
    Option(
        "max_request_bytes",
        help="Largest accepted request body",
        convert=_whole,
        check=_at_least(1024),
        default=4 * 1024 * 1024,
        flag="--max-request-bytes",
        env="THAMOS_MAX_REQUEST_BYTES",
        metavar="BYTES",
    ),
    Option(
        "idle_timeout",
        help="Exit after this many seconds without requests or analyses (embedded use)",
        convert=_seconds_or_none,
        check=_positive_or_none,
        flag="--idle-timeout",
        env="THAMOS_IDLE_TIMEOUT",
        metavar="SECONDS",
    ),
    Option(
        "container_images",
        help="YAML/JSON list of container images to offer",
        convert=_path,
        check=_existing_file("container images catalogue"),
        default=DATA_DIR / "container_images.yaml",
        shown_default="the bundled list",
        flag="--container-images",
        env="THAMOS_CONTAINER_IMAGES",
        metavar="FILE",
    ),
    Option(
        "environments",
        help="Runtime environments the server lists (settings file only)",
        convert=_mappings,
        check=_described_environments,
        default=default_environments,
    ),
    Option(
        "known_indexes",
        help="Extra index the adviser may consider (URL or NAME=URL); repeatable",
        convert=_indexes,
        default=(),
        flag="--known-index",
        env="THAMOS_KNOWN_INDEXES",
        metavar="INDEX",
        repeatable=True,
    ),
    Option(
        "default_index",
        help="Index used when a request names none: URL or NAME=URL",
        convert=_index_or_none,
        shown_default="the index of pip's configuration",
        flag="--default-index",
        env="THAMOS_DEFAULT_INDEX",
        metavar="INDEX",
    ),
    Option(
        "index_aliases",
        help="Other URLs of the indexes above (alias_url=canonical_url,...)",
        convert=_index_aliases,
        default=(),
        env="THAMOS_INDEX_ALIASES",
    ),
    Option(
        "advisory_db",
        help="OSV advisory database: directory, zip archive, or URL of an OSV zip (refreshed); none: no advisory data",
        convert=_advisory_db,
        shown_default="the PyPA snapshot shipped with thamos",
        flag="--advisory-db",
        env="THAMOS_ADVISORY_DB",
        metavar="PATH|URL",
    ),
    Option(
        "advisory_refresh",
        help="Seconds between refreshes of an --advisory-db URL",
        convert=_number,
        check=_positive_or_none,
        default=86400.0,
        flag="--advisory-refresh",
        env="THAMOS_ADVISORY_REFRESH",
        metavar="SECONDS",
    ),
    Option(
        "analysis_deadline",
        help="Seconds an analysis may take in all; its index reads stop after it (none: no limit)",
        convert=_seconds_or_none,
        check=_positive_or_none,
        default=300.0,
        flag="--analysis-deadline",
        env="THAMOS_ANALYSIS_DEADLINE",
        metavar="SECONDS",
    ),
    Option(
        "page_ttl",
        help="Seconds index pages stay fresh in the cache",
        convert=_number,
        default=3600.0,
        flag="--page-ttl",
        env="THAMOS_PAGE_TTL",
        metavar="SECONDS",
    ),
    Option(
        "cors_origins",
        help="Origins browsers may call the API from (settings file only)",
        convert=_words,
        default=("*",),
    ),
    Option(
        "log_level",
        help="How much the server logs",
        convert=_text,
        check=_log_level,
        default="info",
        flag="--log-level",
        metavar="|".join(LOG_LEVELS),
    ),
    Option(
        "builds",
        help="Build sdists whose dependencies only a build tells: always, never, or only these packages",
        convert=_builds,
        default="always",
        flag="--builds",
        env="THAMOS_BUILDS",
        metavar="always|never|NAME[,NAME...]",
    ),
    Option(
        "build_timeout",
        help="Time limit of one build, installing its build requirements included",
        convert=_number,
        default=120.0,
        flag="--build-timeout",
        env="THAMOS_BUILD_TIMEOUT",
        metavar="SECONDS",
    ),
    Option(
        "build_memory_mb",
        help="Memory limit of a build in MB",
        convert=_whole,
        default=2048,
        flag="--build-memory",
        env="THAMOS_BUILD_MEMORY",
        metavar="MB",
    ),
    Option(
        "build_max_source_mb",
        help="Largest sdist downloaded to be built, in MB",
        convert=_whole,
        default=1024,
        env="THAMOS_BUILD_MAX_SOURCE",
    ),
    Option(
        "build_pythons",
        help="Interpreter to build with for targets of its version; repeatable",
        convert=_paths,
        check=_executables,
        default=(),
        flag="--build-python",
        env="THAMOS_BUILD_PYTHONS",
        metavar="PATH",
        repeatable=True,
    ),
    Option(
        "prescriptions",
        help="Prescription repository: a directory or a git URL (cloned into the cache, refreshed); repeatable",
        convert=_sources,
        default=(),
        flag="--prescriptions",
        env="THAMOS_PRESCRIPTIONS",
        metavar="PATH|GIT_URL",
        repeatable=True,
    ),
    Option(
        "prescriptions_refresh",
        help="Seconds between refreshes of git prescription repositories (and checks of directories)",
        convert=_number,
        check=_positive_or_none,
        default=3600.0,
        flag="--prescriptions-refresh",
        env="THAMOS_PRESCRIPTIONS_REFRESH",
        metavar="SECONDS",
    ),
    Option(
        "prescriptions_denied",
        help="Prescription units switched off, with the reason reports give (NAME=REASON;...)",
        convert=_denied,
        shown_default="thoth.Jinja2300Flask100Step (over-broad)",
        flag="--deny-prescription",
        env="THAMOS_PRESCRIPTIONS_DENIED",
        metavar="NAME[=REASON]",
        repeatable=True,
    ),
    Option(
        "prescriptions_link_base",
        help="Base URL of short justification links (slug -> BASE/slug)",
        convert=_text,
        default="https://thoth-station.ninja/j",
        env="THAMOS_PRESCRIPTIONS_LINK_BASE",
    ),
    Option(
        "config_file",
        help="YAML/JSON settings file",
        flag="--config",
        env="THAMOS_SERVER_CONFIG",
        metavar="FILE",
        setting=False,
    ),
)

SETTINGS = tuple(option for option in OPTIONS.values() if option.setting)
FLAGS = tuple(option for option in OPTIONS.values() if option.flag)
