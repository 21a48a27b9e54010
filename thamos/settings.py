"""The client's environment variables: one table of name, meaning and default, and the readers.

Every variable the client reads is in ``VARIABLES``; modules ask ``text``, ``flag``, ``number``... with
its name instead of reading ``os.environ``, and a name missing from the table is a KeyError (a
programming error, found by any test that reaches it). A bad value is a ConfigurationError that
names the variable (exit code 3).

Variables ``read_by="click"`` stand for command line options: click reads them itself (``envvar=`` on
the option, in thamos.cli and thamos.commands), so that ``--dev`` and ``THAMOS_DEV=1`` are one
setting; they are listed here so that the table is complete. ``read_by="server"`` ones are not read by
the client at all: the embedded backend it starts inherits them. The README's table "Environment
variables" documents the same names (tests/thamos/test_settings.py holds the two equal).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stackfiles.flags import parse_flag

from .exceptions import ConfigurationError


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    default: Any = None
    read_by: str = "thamos"  # or "click" (an option's envvar=) or "server" (the embedded backend's own)


VARIABLES: dict[str, Variable] = {variable.name: variable for variable in (
    # ---------------------------------------------------------------- configuration
    Variable("THAMOS_CONFIG_TEMPLATE", "template for `thamos config`; used in memory without a .thoth.yaml"),
    Variable("THAMOS_CONFIG_EXPAND_ENV", "yes: expand {VAR} in .thoth.yaml", False),
    Variable("THAMOS_RUNTIME_ENVIRONMENT", "runtime environment to use (default: the first configured)"),
    Variable("THAMOS_REQUIREMENTS_FORMAT", "pipenv, pip, pip-tools or pip-compile; wins over the file"),
    # ---------------------------------------------------------------- talking to the backend
    Variable("THAMOS_TOKEN", "bearer token sent to the backend (wins over the file's token)"),
    Variable("THAMOS_TIMEOUT", "seconds to wait for an analysis in total", 2000.0),
    Variable("THAMOS_RETRY_ON_ERROR_COUNT", "retries after a connection error or a 5xx answer", 3),
    Variable("THAMOS_RETRY_ON_ERROR_SLEEP", "seconds between retries", 3.0),
    Variable("THAMOS_DISABLE_TLS_WARNING", "yes: no warning when tls_verify is off", False),
    Variable("THAMOS_API_CONNECTION_TIMEOUT", "seconds to wait for a connection to the backend", 10.0),
    # ---------------------------------------------------------------- the embedded backend
    Variable("THAMOS_EMBEDDED_PORT", "port of the embedded local backend", 9876),
    Variable("THAMOS_EMBEDDED_IDLE_TIMEOUT", "seconds the embedded backend waits idle before it exits", 900.0),
    Variable("THAMOS_DATA_DIR", "where the embedded backend keeps analyses "
                                "(else $XDG_DATA_HOME/thamos, else ~/.local/share/thamos)"),
    Variable("THAMOS_CACHE_DIR", "where the embedded backend keeps its caches", read_by="server"),
    # ---------------------------------------------------------------- the terminal and the project
    Variable("THAMOS_NO_INTERACTIVE", "yes: never ask a question", False),
    Variable("THAMOS_NO_PROGRESSBAR", "yes: no spinner", False),
    Variable("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE", "yes: do not write .thoth_last_analysis_id", False),
    # ---------------------------------------------------------------- this machine
    Variable("THAMOS_DISABLE_CUDA", "yes: do not look for CUDA (or cuDNN)", False),
    Variable("THOTH_S2I_NAME", "the s2i image thamos runs in, for base_image"),
    Variable("THOTH_S2I_VERSION", "its version (a tag added to THOTH_S2I_NAME)"),
    Variable("THOTH_BASE_IMAGE", "the container image thamos runs in, for base_image"),
    # ---------------------------------------------------------------- options (read by click)
    Variable("THAMOS_VERBOSE", "yes: client-side details, error details (--verbose)", False, "click"),
    Variable("THAMOS_DEBUG", "yes: the backend analyses in debug mode (--debug)", False, "click"),
    Variable("THAMOS_NO_EMOJI", "yes: plain text markers (--no-emoji)", False, "click"),
    Variable("THAMOS_FORCE", "yes: no cached answers; replace .thoth.yaml (--force)", False, "click"),
    Variable("THAMOS_DEV", "yes: include development packages (--dev)", False, "click"),
    Variable("THAMOS_NO_USER_STACK", "yes: do not send the existing lock (--no-user-stack)", False, "click"),
    # ---------------------------------------------------------------- options of thamos 1.x (read by click)
    Variable("THAMOS_RECOMMENDATION_TYPE", "recommendation type of `advise` (--recommendation-type)", None, "click"),
    Variable("THAMOS_LABELS", "labels of `advise`, 'k=v;k2=v2' (--labels)", None, "click"),
    Variable("THAMOS_NO_STATIC_ANALYSIS", "yes: `advise` sends no library usage (--no-static-analysis)", False,
             "click"),
    Variable("THAMOS_SHOW_METRICS", "yes: `advise` summarizes the justifications (--scoring)", False, "click"),
    Variable("THAMOS_WRITE_ADVISED_MANIFEST_CHANGES", "file `advise` writes the manifest changes to "
                                                      "(--write-advised-manifest-changes)", None, "click"),
    Variable("THAMOS_INSTALL", "yes: `advise` installs the advised stack (--install)", False, "click"),
    Variable("THAMOS_GRAPH_FOLD", "yes: `graph` expands each package's dependencies once (--fold)", False, "click"),
    Variable("THAMOS_SOURCE_PATH", "sources `discover` reads (--src-path)", None, "click"),
    Variable("THAMOS_RUN_NO_PEDANTIC", "yes: `run` does not compare this machine with the configuration (-P)",
             False, "click"),
)}


def _raw(name: str) -> str | None:
    """The variable's text, None when unset or blank; KeyError for a name the table lacks."""
    VARIABLES[name]  # noqa: B018 - the lookup is the check
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def text(name: str) -> str | None:
    raw = _raw(name)
    return raw if raw is not None else VARIABLES[name].default


def flag(name: str) -> bool:
    """A yes/no variable (stackfiles.flags words); another word is a ConfigurationError naming it."""
    raw = _raw(name)
    if raw is None:
        return bool(VARIABLES[name].default)
    try:
        return parse_flag(raw, name=name)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def lenient_flag(name: str) -> bool:
    """A yes/no variable needed to report errors, so never an error itself: another word is no."""
    try:
        return flag(name)
    except ConfigurationError:
        return False


def number(name: str) -> float:
    """A number of at least 0 (seconds, mostly)."""
    return _non_negative(name, float)


def count(name: str) -> int:
    """A whole number of at least 0."""
    return _non_negative(name, int)


def _non_negative(name: str, kind: type) -> Any:
    raw = _raw(name)
    if raw is None:
        return kind(VARIABLES[name].default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, got {raw!r}")
    return value


def seconds(name: str) -> float:
    """A positive number of seconds."""
    raw = _raw(name)
    if raw is None:
        return float(VARIABLES[name].default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value


def port(name: str) -> int:
    raw = _raw(name)
    if raw is None:
        return int(VARIABLES[name].default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise ConfigurationError(f"{name} must be between 1 and 65535, got {value}")
    return value
