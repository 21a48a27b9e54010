"""The project's requirement files: reading them for a request and writing advised locks back.

Layout per runtime environment (in its overlay directory, else in the project root):

- pipenv: ``Pipfile`` (input) and ``Pipfile.lock`` (lock);
- pip / pip-tools: ``requirements.in`` (input; ``requirements.txt`` doubles as input when there is
  no ``.in`` file) and ``requirements.txt`` (lock, with hashes);
- optional ``constraints.txt`` and ``.env`` (variables for ``thamos run``).

Every write is atomic (a temporary file in the same directory, then ``os.replace``) and all files of
one result are prepared before any of them replaces the user's file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement

from stackfiles.atomic import check_writable as stackfiles_check_writable
from stackfiles.atomic import write_files_atomically
from stackfiles.errors import StackFileWriteError

from .config import env_flag
from .exceptions import BadInputError, ConfigurationError, ProjectWriteError, ThamosError

_LOGGER = logging.getLogger(__name__)

PIPFILE = "Pipfile"
PIPFILE_LOCK = "Pipfile.lock"
REQUIREMENTS_IN = "requirements.in"
REQUIREMENTS_TXT = "requirements.txt"
CONSTRAINTS_TXT = "constraints.txt"
DOTENV = ".env"
LAST_ANALYSIS_ID_FILE = ".thoth_last_analysis_id"
# Pipfile sections that enter the lock hash (the rest, e.g. [thoth] or [scripts], do not).
_HASHED_SECTIONS = ("source", "packages", "dev-packages", "requires")


# ---------------------------------------------------------------------- atomic writes
def atomic_write_many(files: dict[Path, str]) -> None:
    """Write several files so that each is either fully old or fully new (see stackfiles.atomic)."""
    try:
        write_files_atomically(files)
    except StackFileWriteError as exc:
        raise ProjectWriteError(exc.message) from None


def atomic_write(path: Path, text: str) -> None:
    atomic_write_many({Path(path): text})


def check_writable(directory: Path) -> None:
    """ProjectWriteError unless files can be created in ``directory`` (tried, not guessed)."""
    try:
        stackfiles_check_writable(directory)
    except StackFileWriteError as exc:
        raise ProjectWriteError(
            f"{exc.message}; the lock could not be saved (use --no-write to only see the advice)"
        ) from None


# ---------------------------------------------------------------------- parsing helpers
def read_user_file(path: Path) -> str:
    """Text of a file the user gave (UTF-8); BadInputError naming it when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path} not found") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_pipfile(text: str, source: str) -> dict[str, Any]:
    try:
        data = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as exc:
        raise BadInputError(f"{source}: not a valid Pipfile (TOML): {exc}") from None
    for section in ("packages", "dev-packages", "requires"):
        if section in data and not isinstance(data[section], dict):
            raise BadInputError(f"{source}: [{section}] must be a table")
    if "source" in data and not isinstance(data["source"], list):
        raise BadInputError(f"{source}: source must be an array of tables ([[source]])")
    return data


def parse_pipfile_lock(text: str, source: str) -> dict[str, Any]:
    """The lock as a dict, after checking the shape thamos and pipenv rely on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{source}: not a valid Pipfile.lock (JSON): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("_meta", {}), dict):
        raise BadInputError(f"{source}: not a Pipfile.lock document (expected an object with _meta)")
    meta = data.get("_meta", {})
    for key, kind in (("hash", dict), ("requires", dict), ("sources", list)):
        if key in meta and not isinstance(meta[key], kind):
            raise BadInputError(f"{source}: _meta.{key} must be {'an object' if kind is dict else 'a list'}")
    for section in ("default", "develop"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise BadInputError(f"{source}: {section!r} must map package names to entries")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise BadInputError(f"{source}: {section}.{name} must be an object with version and hashes")
            for key, kind in (("version", str), ("markers", str), ("index", str), ("hashes", list)):
                if entry.get(key) is not None and not isinstance(entry[key], kind):
                    raise BadInputError(f"{source}: {section}.{name}.{key} must be a {_TYPE_NAMES[kind]}")
    return data


_TYPE_NAMES = {str: "string", list: "list", dict: "object"}


@dataclass(frozen=True)
class RequirementLine:
    """One requirement of a requirements file (options such as --index-url are not requirements)."""

    line_number: int
    text: str
    requirement: Requirement

    @property
    def pinned_version(self) -> str | None:
        """The version of a ``name==version`` pin, else None."""
        specifiers = list(self.requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
            return specifiers[0].version
        return None


def parse_requirements_file(text: str, source: str) -> list[RequirementLine]:
    """Requirements of a requirements.in/.txt; BadInputError naming the line of one pip cannot read.

    Option lines (``-r``, ``-e``, ``--index-url``...) are skipped; ``--hash`` options after a
    requirement are allowed; backslash continuations are joined.
    """
    result: list[RequirementLine] = []
    logical, first_line = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not logical:
            first_line = number
        if raw.endswith("\\"):
            logical += raw[:-1] + " "
            continue
        line, logical = _strip_comment(logical + raw).strip(), ""
        if not line or line.startswith("-"):
            continue
        requirement_text = re.split(r"\s+--?[A-Za-z]", " " + line, maxsplit=1)[0].strip()
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as exc:
            reason = " ".join(str(exc).splitlines()[0].split())
            raise BadInputError(f"{source} line {first_line}: {requirement_text!r} is not a valid requirement "
                                f"({reason})") from None
        result.append(RequirementLine(first_line, requirement_text, requirement))
    return result


def _strip_comment(line: str) -> str:
    # pip: a comment starts at "#" at the beginning of a line or after whitespace (URLs keep fragments).
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def pipfile_hash(pipfile: dict[str, Any]) -> str:
    """The ``_meta.hash.sha256`` a Pipfile.lock made from this Pipfile carries (pipenv's definition)."""
    data = {
        "_meta": {"requires": pipfile.get("requires", {}), "sources": pipfile.get("source", [])},
        "default": pipfile.get("packages", {}),
        "develop": pipfile.get("dev-packages", {}),
    }
    content = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def lock_hash(lock: dict[str, Any]) -> str | None:
    return ((lock.get("_meta") or {}).get("hash") or {}).get("sha256")


def render_lock(lock: dict[str, Any]) -> str:
    """Pipfile.lock text the way pipenv writes it (sorted keys, 4 spaces, final newline)."""
    return json.dumps(lock, indent=4, sort_keys=True) + "\n"


def render_requirements_txt(lock: dict[str, Any], *, dev: bool = False) -> str:
    """requirements.txt (pinned, with hashes and index options) from a Pipfile.lock dict, via micropipenv."""
    import micropipenv

    # micropipenv expands ${VAR} in index URLs; the file keeps them as written (pip expands them
    # when it reads the file, and thamos install does too), so they go through it masked.
    sources = ((lock.get("_meta") or {}).get("sources")) or []
    masked = [{**s, "url": s["url"].replace("$", _DOLLAR)} if isinstance(s.get("url"), str) else s for s in sources]
    lock = {**lock, "_meta": {**(lock.get("_meta") or {}), "sources": masked}}
    sections = micropipenv.get_requirements_sections(pipfile_lock=lock, no_dev=not dev)
    header = "#\n# This file was written by `thamos advise`; edit requirements.in instead.\n#\n"
    try:
        return header + micropipenv.requirements_str(sections).replace(_DOLLAR, "$")
    except micropipenv.MicropipenvException as exc:
        raise ThamosError(f"cannot render requirements.txt from the advised lock: {exc}") from None


_DOLLAR = "__thamos_dollar__"


def _toml_value(value: Any) -> Any:
    """A TOML item for a Pipfile value: mappings become inline tables (``{version = "*"}``), as
    Pipfiles write them, instead of tomlkit's default of a separate ``[packages.name]`` table."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _toml_value(item)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for item in value:
            array.append(_toml_value(item))
        return array
    return value


def _section_text(name: str, value: Any) -> str:
    """TOML text of one new section (``[name]`` table or ``[[source]]`` array of tables)."""
    document = tomlkit.document()
    if name == "source" and isinstance(value, list):
        array = tomlkit.aot()
        for entry in value:
            table = tomlkit.table()
            for key, item in entry.items():
                table[key] = _toml_value(item)
            array.append(table)
        document[name] = array
    elif isinstance(value, dict):
        table = tomlkit.table()
        for key, item in value.items():
            table[key] = _toml_value(item)
        document[name] = table
    else:
        document[name] = _toml_value(value)
    return tomlkit.dumps(document).strip("\n") + "\n"


def _update_table(table: Any, new_value: dict[str, Any]) -> None:
    """Make ``table`` hold ``new_value``, touching only the entries that change (comments stay)."""
    for key in [key for key in table if key not in new_value]:
        del table[key]
    for key, value in new_value.items():
        if key not in table or _unwrap(table[key]) != value:
            table[key] = _toml_value(value)


def _update_sources(array: Any, wanted: list[dict[str, Any]]) -> None:
    """Make the ``[[source]]`` array hold ``wanted``, editing the user's tables where they are."""
    while len(array) > len(wanted):
        del array[len(array) - 1]
    for position, entry in enumerate(wanted):
        if position < len(array):
            _update_table(array[position], entry)
        else:
            table = tomlkit.table()
            for key, value in entry.items():
                table[key] = _toml_value(value)
            table.add(tomlkit.nl())  # the blank line before whatever section follows
            array.append(table)


def _unwrap(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def render_pipfile(advised: dict[str, Any], current_text: str | None) -> str:
    """Pipfile text for the advised Pipfile dict, keeping the user's document where it can.

    Only what differs for the lock hash is changed: entries of ``[packages]``, ``[dev-packages]``
    and ``[requires]`` are updated in place (comments, order and spacing of the rest stay), a
    changed ``[[source]]`` list is replaced, and a missing one goes to the top of the file as
    pipenv writes it. Other sections (``[thoth]``, ``[pipenv]``, ``[scripts]``...) are the user's.
    """
    document = tomlkit.parse(current_text) if current_text else tomlkit.document()
    empty: dict[str, Any] = {"source": [], "packages": {}, "dev-packages": {}, "requires": {}}
    prepend: list[str] = []
    append: list[str] = []
    for section in _HASHED_SECTIONS:
        wanted = advised.get(section, empty[section])
        present = section in document
        if (_unwrap(document[section]) if present else empty[section]) == wanted:
            continue
        if not present:
            (prepend if section == "source" else append).append(_section_text(section, wanted))
        elif wanted == empty[section]:
            del document[section]
        elif section == "source":
            _update_sources(document[section], wanted)
        else:
            _update_table(document[section], wanted)
    for section, value in advised.items():
        if section not in _HASHED_SECTIONS and section not in document:
            append.append(_section_text(section, value))
    text = tomlkit.dumps(document).rstrip("\n") + "\n"
    if append:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + "\n".join(append)
    if prepend:
        text = "\n".join(prepend) + ("\n" + text if text.strip() else "")
    return text


def same_pipfile(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """True when both Pipfiles produce the same lock hash (formatting aside)."""
    return pipfile_hash(left) == pipfile_hash(right)


# ---------------------------------------------------------------------- the project's files
@dataclass
class Stack:
    """What is sent to the backend as ``application_stack``."""

    requirements: str
    requirements_lock: str | None
    requirements_format: str
    constraints: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "requirements": self.requirements,
            "requirements_lock": self.requirements_lock,
            "requirements_format": self.requirements_format,
            "constraints": self.constraints,
        }


@dataclass
class ProjectFiles:
    """Requirement files of one runtime environment."""

    directory: Path
    requirements_format: str = "pipenv"

    @property
    def is_pipenv(self) -> bool:
        return self.requirements_format == "pipenv"

    @property
    def pipfile(self) -> Path:
        return self.directory / PIPFILE

    @property
    def pipfile_lock(self) -> Path:
        return self.directory / PIPFILE_LOCK

    @property
    def requirements_in(self) -> Path:
        return self.directory / REQUIREMENTS_IN

    @property
    def requirements_txt(self) -> Path:
        return self.directory / REQUIREMENTS_TXT

    @property
    def constraints(self) -> Path:
        return self.directory / CONSTRAINTS_TXT

    @property
    def dotenv(self) -> Path:
        return self.directory / DOTENV

    @property
    def last_analysis_id(self) -> Path:
        return self.directory / LAST_ANALYSIS_ID_FILE

    @property
    def input_file(self) -> Path:
        if self.is_pipenv:
            return self.pipfile
        if self.requirements_in.exists() or not self.requirements_txt.exists():
            return self.requirements_in
        return self.requirements_txt

    @property
    def lock_file(self) -> Path:
        return self.pipfile_lock if self.is_pipenv else self.requirements_txt

    def _read(self, path: Path) -> str:
        return read_user_file(path)

    def _read_optional(self, path: Path) -> str | None:
        return self._read(path) if path.is_file() else None

    def read_stack(self, *, with_lock: bool = True) -> Stack:
        """Read and check the input (and the lock, unless ``with_lock`` is false) for a request."""
        input_file = self.input_file
        if not input_file.is_file():
            expected = PIPFILE if self.is_pipenv else f"{REQUIREMENTS_IN} or {REQUIREMENTS_TXT}"
            raise BadInputError(f"No {expected} found in {self.directory}")
        requirements = self._read(input_file)
        lock_text: str | None = None
        if self.is_pipenv:
            parse_pipfile(requirements, str(input_file))
            if with_lock and self.pipfile_lock.is_file():
                lock_text = self._read(self.pipfile_lock)
                parse_pipfile_lock(lock_text, str(self.pipfile_lock))
        else:
            if not requirements.strip():
                raise BadInputError(f"{input_file} lists no requirements")
            parse_requirements_file(requirements, str(input_file))  # bad lines are named before any request
            if with_lock and input_file != self.requirements_txt:
                lock_text = self._read_optional(self.requirements_txt)
                if lock_text is not None:
                    parse_requirements_file(lock_text, str(self.requirements_txt))
        return Stack(
            requirements=requirements,
            requirements_lock=lock_text,
            requirements_format=self.requirements_format,
            constraints=self._read_optional(self.constraints),
        )

    def read_pipfile(self) -> dict[str, Any]:
        return parse_pipfile(self._read(self.pipfile), str(self.pipfile))

    def read_pipfile_lock(self) -> dict[str, Any]:
        return parse_pipfile_lock(self._read(self.pipfile_lock), str(self.pipfile_lock))

    def files_for_advised(self, requirements: dict[str, Any], lock: dict[str, Any], *, dev: bool) -> dict[Path, str]:
        """The file contents to write for an advised product (nothing is written here)."""
        if not isinstance(lock, dict) or not lock:
            raise ThamosError("the backend returned no lock for the advised stack")
        if not self.is_pipenv:
            return {self.requirements_txt: render_requirements_txt(lock, dev=dev)}
        files: dict[Path, str] = {self.pipfile_lock: render_lock(lock)}
        current_text = self.pipfile.read_text(encoding="utf-8") if self.pipfile.is_file() else None
        current = parse_pipfile(current_text, str(self.pipfile)) if current_text is not None else None
        # Keep the user's Pipfile byte for byte when the advised one is the same for the lock hash.
        pipfile_text = current_text
        if requirements and (current is None or not same_pipfile(current, requirements)):
            pipfile_text = files[self.pipfile] = render_pipfile(requirements, current_text)
        # The pair written must verify (`thamos verify`, micropipenv, `pipenv install --deploy`).
        expected = lock_hash(lock)
        if expected is not None and pipfile_text is not None:
            written = pipfile_hash(parse_pipfile(pipfile_text, str(self.pipfile)))
            if written != expected:
                raise ThamosError(
                    f"the advised Pipfile.lock (hash {expected}) does not belong to the Pipfile it came with "
                    f"(hash {written}); nothing was written"
                )
        return files

    def write_advised(self, requirements: dict[str, Any], lock: dict[str, Any], *, dev: bool) -> list[Path]:
        files = self.files_for_advised(requirements, lock, dev=dev)
        atomic_write_many(files)
        return sorted(files)

    # -------------------------------------------------------------- last analysis id
    def remember_analysis_id(self, analysis_id: str) -> None:
        try:
            if env_flag("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE"):
                return
            atomic_write(self.last_analysis_id, analysis_id + "\n")
        except (ConfigurationError, ProjectWriteError) as exc:  # remembering is a convenience, never a failure
            _LOGGER.warning("%s", exc.message)

    def recall_analysis_id(self) -> str | None:
        try:
            value = self.last_analysis_id.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return value or None
