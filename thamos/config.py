"""The ``.thoth.yaml`` configuration: finding, templating, expanding, validating and querying it.

The file is looked up from the working directory upwards; the directory holding it is the project
root. Without a file, thamos still works: it describes this machine as a single runtime environment
named after its operating system and talks to the embedded local backend.

Environment variable expansion (``{VAR}`` replaced by the value of ``VAR``) is off unless
THAMOS_CONFIG_EXPAND_ENV=1. It is off by default for safety: ``.thoth.yaml`` usually comes with a
repository, possibly an untrusted one, and that file also chooses the ``host`` thamos sends requests
(labels, requirements) to. With expansion on by default, cloning a repository and running
``thamos advise`` could copy a secret such as ``{AWS_SECRET_ACCESS_KEY}`` into a label and send it to
a host picked by the repository's author.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import __version__, machine, settings
from .exceptions import (
    ConfigExistsError,
    ConfigurationError,
    NoConfigurationError,
    NoRuntimeEnvironmentError,
)
from .project_files import atomic_write

if TYPE_CHECKING:
    from jsonschema import ValidationError

_LOGGER = logging.getLogger(__name__)

CONFIG_NAME = ".thoth.yaml"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TEMPLATE = DATA_DIR / "thoth.yaml.template"
REQUIREMENTS_FORMATS = ("pipenv", "pip", "pip-tools", "pip-compile")
# The spec's enum of recommendation types; the client keeps its own copy (it never imports the
# adviser, and the generated client carries no enum for it) and tests/spec holds the two equal.
RECOMMENDATION_TYPES = ("latest", "testing", "stable", "performance", "security")
DEFAULT_RECOMMENDATION_TYPE = "stable"

# `{name}` optionally wrapped in matching quotes. Flow mappings such as `{a: b}` or `{}` never match
# because names hold no spaces or colons.
_PLACEHOLDER_RE = re.compile(r"""(?P<quote>['"]?)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}(?P=quote)""")

_NULLABLE_STRING = {"type": ["string", "null"]}
_VERSION_STRING = {"type": ["string", "null"]}
_LABELS_SCHEMA = {
    "type": ["object", "null"],
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}

RUNTIME_ENVIRONMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-zA-Z0-9:_.-]+$"},
        "operating_system": {
            "type": ["object", "null"],
            "properties": {"name": _NULLABLE_STRING, "version": _VERSION_STRING},
            "additionalProperties": False,
        },
        "hardware": {
            "type": ["object", "null"],
            "properties": {
                "cpu_family": {"type": ["integer", "null"]},
                "cpu_model": {"type": ["integer", "null"]},
                "cpu_model_name": _NULLABLE_STRING,
                "gpu_model": _NULLABLE_STRING,
            },
            "additionalProperties": False,
        },
        "python_version": {"type": ["string", "null"], "pattern": r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"},
        "cuda_version": _VERSION_STRING,
        "cudnn_version": _VERSION_STRING,
        "mkl_version": _VERSION_STRING,
        "openblas_version": _VERSION_STRING,
        "openmpi_version": _VERSION_STRING,
        "platform": _NULLABLE_STRING,
        "base_image": _NULLABLE_STRING,
        "recommendation_type": {"enum": [*RECOMMENDATION_TYPES, None]},
        "labels": _LABELS_SCHEMA,
        # The adviser's settings a Pipfile's [thoth] table holds (see thamos.thoth_settings).
        "thoth": {
            "type": "object",
            "properties": {
                "allow_prereleases": {"type": "object", "additionalProperties": {"type": "boolean"}},
                "disable_index_adjustment": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "host": _NULLABLE_STRING,
        "tls_verify": {"type": "boolean"},
        "tls_ca_bundle": _NULLABLE_STRING,
        "token": _NULLABLE_STRING,
        "requirements_format": {"enum": list(REQUIREMENTS_FORMATS)},
        "overlays_dir": _NULLABLE_STRING,
        "virtualenv": {"type": "boolean"},
        "recommendation_type": {"enum": [*RECOMMENDATION_TYPES, None]},
        "labels": _LABELS_SCHEMA,
        "runtime_environments": {"type": "array", "minItems": 1, "items": RUNTIME_ENVIRONMENT_SCHEMA},
        # Kept for files shared with Kebechet; thamos does not read it.
        "managers": {"type": ["array", "null"], "items": {"type": "object", "required": ["name"]}},
    },
    "required": ["runtime_environments"],
    "additionalProperties": False,
}


def expand_env_enabled() -> bool:
    return settings.flag("THAMOS_CONFIG_EXPAND_ENV")


def _yaml_scalar(value: Any) -> str:
    """Text that YAML reads back as exactly ``value`` (strings stay strings: '10.1', 'null')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if any(ord(char) < 32 for char in text):
        # A JSON string is a valid YAML double-quoted scalar and keeps newlines as "\n".
        return json.dumps(text)
    try:
        if yaml.safe_load(text) == text and not text.startswith(("'", '"')):
            return text
    except yaml.YAMLError:
        pass
    return "'" + text.replace("'", "''") + "'"


def _quoted(value: str, quote: str) -> str:
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_template(text: str, values: dict[str, Any]) -> str:
    """Fill the known ``{placeholders}`` of a configuration template; others are left for env expansion.

    A placeholder already quoted in the template (``'{os_version}'``) receives the raw text (or
    ``null`` for an unknown value); an unquoted one receives a YAML scalar of the right type
    (``cpu_family: 6``, ``cuda_version: '11.8'``, ``gpu_model: null``).
    """

    def substitute(match: re.Match[str]) -> str:
        name, quote = match.group("name"), match.group("quote")
        if name not in values:
            return match.group(0)
        value = values[name]
        if quote:
            return "null" if value is None else _quoted(str(value), quote)
        return _yaml_scalar(value)

    return _PLACEHOLDER_RE.sub(substitute, text)


def expand_environment(text: str, source: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``{VAR}`` with the environment's values; values are YAML-typed ("true" becomes true).

    A value that would change the document's structure (several lines, a mapping or a list) is
    inserted as a plain string instead, so expansion can only ever set a scalar.
    """
    environ = dict(os.environ if environ is None else environ)

    def substitute(match: re.Match[str]) -> str:
        name, quote = match.group("name"), match.group("quote")
        if name not in environ:
            raise ConfigurationError(
                f"{source}: environment variable {name!r} referenced as {{{name}}} is not set "
                "(THAMOS_CONFIG_EXPAND_ENV=1 expands every {VAR} of the file)"
            )
        value = environ[name]
        if quote:
            return _quoted(value, quote)
        if "\n" in value:
            return _yaml_scalar(value)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return _yaml_scalar(value)
        if isinstance(parsed, dict | list):
            return _yaml_scalar(value)
        return value

    return _PLACEHOLDER_RE.sub(substitute, text)


def _error_location(error: ValidationError) -> str:
    parts: list[str] = []
    for item in error.absolute_path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe_schema_error(error: ValidationError, source: str, instance: Any) -> str:
    location = _error_location(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = "top level" if location == "(top level)" else location
        return f"{source}: unknown key {', '.join(map(repr, extra))} at {where}; known keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{source}: {location}: {error.message}"
    message = f"{source}: {location}: {error.message}"
    if (
        error.validator == "type"
        and isinstance(error.instance, int | float)
        and not isinstance(error.instance, bool)
        and "string" in error.validator_value
    ):
        message += f" (quote it: '{error.instance}')"
    if isinstance(error.instance, dict) and len(error.instance) == 1:
        (key, value), = error.instance.items()
        if value is None and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
            message += (
                f" ({{{key}}} looks like an environment variable placeholder; "
                "set THAMOS_CONFIG_EXPAND_ENV=1 to expand it)"
            )
    return message


def validate_config(content: Any, source: str) -> dict[str, Any]:
    """Validate parsed configuration; errors name the key and the file."""
    if content is None:
        raise ConfigurationError(f"{source}: the configuration file is empty")
    if not isinstance(content, dict):
        raise ConfigurationError(f"{source}: the configuration must be a mapping of keys to values")
    checked = _checked_mark(content)
    if checked is None or not checked.exists():
        _check_schema(content, source)
        _mark(checked)
    names = [env["name"] for env in content["runtime_environments"]]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigurationError(f"{source}: runtime_environments: duplicate name(s) {', '.join(duplicates)}")
    return content


def _check_schema(content: dict[str, Any], source: str) -> None:
    import jsonschema  # ~80 ms: only for a configuration not seen before (see _checked_mark)

    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = sorted(validator.iter_errors(content), key=lambda e: (len(list(e.absolute_path)), str(e.path)))
    if errors:
        # The most specific error first reads best: report the deepest one.
        error = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise ConfigurationError(_describe_schema_error(error, source, content))


def _checked_mark(content: dict[str, Any]) -> Path | None:
    """The file that says this configuration passed this thamos version's schema check before.

    Importing jsonschema costs about a fifth of a warm `thamos advise`: a configuration checked
    once is not checked again until it (or thamos) changes. None when it cannot be serialised."""
    try:
        text = json.dumps([__version__, CONFIG_SCHEMA, content], sort_keys=True)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "thamos" / "client" / "checked-configurations" / digest


def _mark(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass  # only a cache: the next command checks again


def parse_config_text(text: str, source: str, *, expand_env: bool | None = None) -> dict[str, Any]:
    """Parse (and, when enabled, env-expand) configuration text, then validate it."""
    if expand_env is None:
        expand_env = expand_env_enabled()
    if expand_env:
        _LOGGER.info("Expanding configuration file based on environment variables")
        text = expand_environment(text, source)
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = ""
        if not expand_env and _PLACEHOLDER_RE.search(text):
            hint = "; it contains {VAR} placeholders, set THAMOS_CONFIG_EXPAND_ENV=1 to expand them"
        raise ConfigurationError(f"{source}: not valid YAML{where}: {problem}{hint}") from None
    return validate_config(content, source)


def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest ``.thoth.yaml`` in ``start`` (default: the working directory) or its parents."""
    directory = (start or Path.cwd()).resolve()
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def discovery_values(runtime_environment_name: str | None = None) -> dict[str, Any]:
    """Values of the template placeholders, discovered on this machine."""
    env = machine.discover_runtime_environment(runtime_environment_name)
    requirements_format = settings.text("THAMOS_REQUIREMENTS_FORMAT") or "pipenv"
    if requirements_format not in REQUIREMENTS_FORMATS:
        raise ConfigurationError(
            f"THAMOS_REQUIREMENTS_FORMAT: unknown requirements format {requirements_format!r}; "
            f"use one of {', '.join(REQUIREMENTS_FORMATS)}"
        )
    cpu = machine.discover_cpu() or {}
    return {
        "runtime_environment_name": env["name"],
        "os_name": env["operating_system"]["name"],
        "os_version": env["operating_system"]["version"],
        "cpu_family": env["hardware"]["cpu_family"],
        "cpu_model": env["hardware"]["cpu_model"],
        "cpu_model_name": cpu.get("cpu_model_name"),
        "gpu_model": env["hardware"]["gpu_model"],
        "python_version": env["python_version"],
        "cuda_version": env["cuda_version"],
        "cudnn_version": env["cudnn_version"],
        "mkl_version": env["mkl_version"],
        "openblas_version": env["openblas_version"],
        "openmpi_version": None,
        "platform": env["platform"],
        "requirements_format": requirements_format,
        "base_image": env["base_image"],
        "recommendation_type": DEFAULT_RECOMMENDATION_TYPE,
    }


class Configuration:
    """Process-wide configuration state (the ``config`` singleton below).

    ``explicit_host`` and ``tls_verify`` set by a program take precedence over the file, as do
    ``token`` (else THAMOS_TOKEN, else the file's ``token``).
    """

    def __init__(self) -> None:
        self.explicit_host: str | None = None
        self.tls_verify: bool | None = None
        self.token: str | None = None
        self.config_path: Path | None = None
        self._content: dict[str, Any] | None = None
        self._from_file = False

    # ------------------------------------------------------------------ loading
    def reset(self) -> None:
        """Forget the loaded file (the explicit settings are kept)."""
        self._content = None
        self.config_path = None
        self._from_file = False

    def load_config(self, path: str | os.PathLike[str] | None = None, *, force: bool = False) -> dict[str, Any]:
        """Load ``path`` or the nearest ``.thoth.yaml``; raise NoConfigurationError when there is none."""
        if self._content is not None and self._from_file and not force and path is None:
            return self._content
        config_path = Path(path) if path is not None else find_config_file()
        if config_path is None:
            raise NoConfigurationError(
                f"No {CONFIG_NAME} found in {Path.cwd()} or its parents; create one with `thamos config`"
            )
        try:
            text = config_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{config_path}: cannot read the configuration file: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"{config_path}: cannot read the configuration file: not UTF-8 text "
                                     f"({exc.reason} at byte {exc.start})") from None
        self._content = parse_config_text(text, str(config_path))
        self.config_path = config_path.resolve()
        self._from_file = True
        _LOGGER.debug("Configuration loaded from %s", self.config_path)
        return self._content

    def load_config_from_string(self, text: str, source: str = "<string>") -> dict[str, Any]:
        self._content = parse_config_text(text, source)
        self.config_path = None
        self._from_file = True
        return self._content

    @property
    def has_config_file(self) -> bool:
        self._ensure_loaded()
        return self.config_path is not None

    def _ensure_loaded(self) -> dict[str, Any]:
        if self._content is None:
            if find_config_file() is not None:
                return self.load_config()
            template = settings.text("THAMOS_CONFIG_TEMPLATE")
            if template:
                # Unattended builds (s2i) point at a template instead of committing .thoth.yaml;
                # it is rendered in memory, nothing is written.
                _LOGGER.debug("No %s found, using the template %s", CONFIG_NAME, template)
                rendered = self.create_default_config(template, nowrite=True)
                self._content = parse_config_text(rendered, template)
            else:
                # No file: describe this machine, talk to the local backend.
                _LOGGER.debug("No %s found, using a discovered runtime environment", CONFIG_NAME)
                self._content = {"runtime_environments": [machine.discover_runtime_environment()]}
            self._from_file = False
        return self._content

    @property
    def content(self) -> dict[str, Any]:
        return self._ensure_loaded()

    @property
    def project_root(self) -> Path:
        """Directory holding ``.thoth.yaml``, else the working directory."""
        self._ensure_loaded()
        return self.config_path.parent if self.config_path is not None else Path.cwd().resolve()

    # ------------------------------------------------------------------ settings
    @property
    def host(self) -> str | None:
        return self.explicit_host or self.content.get("host") or None

    def peek_host(self) -> tuple[bool, str | None]:
        """(known, host): the host, read from a plain ``.thoth.yaml`` without its schema check, which
        first imports jsonschema for a file not checked before (~70 ms): enough to start the
        embedded backend early. Not known for templates, expanded or unreadable files: ask ``host``."""
        if self.explicit_host or self._content is not None:
            return True, self.host
        path = find_config_file()
        if path is None or expand_env_enabled():
            return False, None
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return False, None
        host = content.get("host") if isinstance(content, dict) else False
        return (True, host or None) if host is None or isinstance(host, str) else (False, None)

    def get_tls_verify(self) -> bool:
        if self.tls_verify is not None:
            return self.tls_verify
        return bool(self.content.get("tls_verify", True))

    @property
    def tls_ca_bundle(self) -> str | None:
        bundle = self.content.get("tls_ca_bundle")
        if bundle and not Path(bundle).is_absolute():
            bundle = str(self.project_root / bundle)
        return bundle or None

    def get_token(self) -> str | None:
        return self.token or settings.text("THAMOS_TOKEN") or self.content.get("token") or None

    @property
    def requirements_format(self) -> str:
        value = settings.text("THAMOS_REQUIREMENTS_FORMAT") or self.content.get("requirements_format") or "pipenv"
        if value not in REQUIREMENTS_FORMATS:
            raise ConfigurationError(
                f"THAMOS_REQUIREMENTS_FORMAT: unknown requirements format {value!r}; "
                f"use one of {', '.join(REQUIREMENTS_FORMATS)}"
            )
        return value

    @property
    def virtualenv(self) -> bool:
        return bool(self.content.get("virtualenv", False))

    @property
    def overlays_dir(self) -> Path | None:
        overlays = self.content.get("overlays_dir")
        if not overlays:
            return None
        path = Path(overlays)
        return path if path.is_absolute() else self.project_root / path

    # ------------------------------------------------------------------ runtime environments
    def list_runtime_environments(self) -> list[dict[str, Any]]:
        return list(self.content.get("runtime_environments") or [])

    def runtime_environment_names(self) -> list[str]:
        return [env["name"] for env in self.list_runtime_environments()]

    def get_runtime_environment(self, name: str | None = None) -> dict[str, Any]:
        """The named environment; without a name THAMOS_RUNTIME_ENVIRONMENT, else the first one."""
        name = name or settings.text("THAMOS_RUNTIME_ENVIRONMENT") or None
        environments = self.list_runtime_environments()
        if not environments:
            raise NoRuntimeEnvironmentError(f"{self._source()}: no runtime_environments configured")
        if name is None:
            return environments[0]
        for environment in environments:
            if environment.get("name") == name:
                return environment
        known = ", ".join(repr(env.get("name")) for env in environments)
        raise NoRuntimeEnvironmentError(
            f"No runtime environment named {name!r} in {self._source()}; configured: {known}"
        )

    def _source(self) -> str:
        return str(self.config_path) if self.config_path else "the discovered configuration (no .thoth.yaml)"

    def files_dir(self, runtime_environment_name: str | None = None) -> Path:
        """Directory with the requirement files of an environment: its overlay, else the project root."""
        overlays = self.overlays_dir
        if overlays is None:
            return self.project_root
        name = self.get_runtime_environment(runtime_environment_name)["name"]
        return overlays / name

    def get_labels(self, runtime_environment: dict[str, Any] | None = None) -> dict[str, str]:
        """Labels of the file (top level, then the environment's own), as strings."""
        labels: dict[str, str] = {}
        for source in (self.content.get("labels"), (runtime_environment or {}).get("labels")):
            for key, value in (source or {}).items():
                labels[str(key)] = _label_text(value)
        return labels

    def get_recommendation_type(self, runtime_environment: dict[str, Any] | None = None) -> str:
        return (
            (runtime_environment or {}).get("recommendation_type")
            or self.content.get("recommendation_type")
            or DEFAULT_RECOMMENDATION_TYPE
        )

    # ------------------------------------------------------------------ creation
    def create_default_config(
        self,
        template: str | os.PathLike[str] | None = None,
        *,
        directory: Path | None = None,
        force: bool = False,
        nowrite: bool = False,
    ) -> str:
        """Render a template (default: the bundled one) with discovered values; write it unless ``nowrite``.

        Never overwrites an existing file unless ``force``. Returns the rendered text. The result is
        validated only when it holds no placeholders left for environment expansion.
        """
        template_path = Path(template or settings.text("THAMOS_CONFIG_TEMPLATE") or DEFAULT_TEMPLATE)
        try:
            template_text = template_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{template_path}: cannot read the template: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"{template_path}: cannot read the template: not UTF-8 text "
                                     f"({exc.reason} at byte {exc.start})") from None
        rendered = render_template(template_text, discovery_values())
        if not _PLACEHOLDER_RE.search(rendered):
            parse_config_text(rendered, str(template_path), expand_env=False)
        else:
            _LOGGER.info("Placeholders left for environment expansion: %s",
                         ", ".join(sorted({m.group("name") for m in _PLACEHOLDER_RE.finditer(rendered)})))
        if nowrite:
            return rendered
        target = (directory or Path.cwd()) / CONFIG_NAME
        if target.exists() and not force:
            raise ConfigExistsError(f"{target} already exists; use --force (or THAMOS_FORCE=1) to replace it")
        atomic_write(target, rendered)
        _LOGGER.debug("Configuration written to %s", target)
        self.reset()
        return rendered


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_labels(text: str | None) -> dict[str, str]:
    """Parse ``"k=v;k2=v2"`` (as given to ``--labels``) into a dict; raises ValueError on bad items."""
    labels: dict[str, str] = {}
    if not text:
        return labels
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"label {item!r} is not of the form key=value")
        labels[key] = value
    return labels


config = Configuration()
