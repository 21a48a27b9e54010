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

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackfiles.atomic import check_writable as stackfiles_check_writable
from stackfiles.atomic import write_files_atomically
from stackfiles.errors import StackFileError, StackFileWriteError
from stackfiles.pipfile import pipfile_hash, read_pipfile, render_pipfile
from stackfiles.pipfile_lock import lock_hash, read_pipfile_lock
from stackfiles.pipfile_lock import render_pipfile_lock as render_lock
from stackfiles.requirements import RequirementsLine, read_requirements
from stackfiles.requirements import render_requirements_txt as stackfiles_render_requirements_txt

from . import settings
from .exceptions import BadInputError, ConfigurationError, ProjectWriteError, ThamosError
from .input_checks import check_pipfile, check_requirements_options, check_size

_LOGGER = logging.getLogger(__name__)

PIPFILE = "Pipfile"
PIPFILE_LOCK = "Pipfile.lock"
REQUIREMENTS_IN = "requirements.in"
REQUIREMENTS_TXT = "requirements.txt"
CONSTRAINTS_TXT = "constraints.txt"
DOTENV = ".env"
LAST_ANALYSIS_ID_FILE = ".thoth_last_analysis_id"
# The last id of each kind beside the last of any kind: `diff` and `graph` need the last advise even
# after a provenance check (the file above keeps thamos 1.x's format: one id).
LAST_ANALYSIS_IDS_FILE = ".thoth_last_analysis_id.json"
ANALYSIS_KINDS = ("adviser", "provenance-checker")


def analysis_kind(analysis_id: str) -> str | None:
    """``adviser`` or ``provenance-checker`` from an id's prefix; None for another id."""
    return next((kind for kind in ANALYSIS_KINDS if analysis_id.startswith(kind + "-")), None)


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
    """The Pipfile as plain data (stackfiles.pipfile); BadInputError naming ``source``."""
    with _bad_input():
        return read_pipfile(text, source)


def parse_pipfile_lock(text: str, source: str) -> dict[str, Any]:
    """The lock as a dict, after checking the shape thamos and pipenv rely on (stackfiles.pipfile_lock)."""
    with _bad_input():
        return read_pipfile_lock(text, source)


def parse_requirements_file(text: str, source: str) -> list[RequirementsLine]:
    """Requirements of a requirements.in/.txt (option lines left out); BadInputError naming a bad line."""
    with _bad_input():
        return [line for line in read_requirements(text, source) if not line.is_option]


def render_requirements_txt(lock: dict[str, Any], *, dev: bool = False) -> str:
    """requirements.txt (pinned, with hashes and index options) from a Pipfile.lock dict."""
    try:
        return stackfiles_render_requirements_txt(lock, dev=dev)
    except StackFileError as exc:
        raise ThamosError(exc.message) from None


@contextlib.contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except StackFileError as exc:
        raise BadInputError(exc.message) from None


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
    def last_analysis_ids(self) -> Path:
        return self.directory / LAST_ANALYSIS_IDS_FILE

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
        check_size(path)  # a file too big to send is not read (a 5 MB Pipfile cost seconds of parsing)
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
            check_pipfile(parse_pipfile(requirements, str(input_file)), str(input_file))
            if with_lock and self.pipfile_lock.is_file():
                lock_text = self._read(self.pipfile_lock)
                parse_pipfile_lock(lock_text, str(self.pipfile_lock))
        else:
            if not requirements.strip():
                raise BadInputError(f"{input_file} lists no requirements")
            parse_requirements_file(requirements, str(input_file))  # bad lines are named before any request
            with _bad_input():
                check_requirements_options(read_requirements(requirements, str(input_file)), str(input_file))
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
            files = {self.requirements_txt: render_requirements_txt(lock, dev=dev)}
            if self.input_file == self.requirements_txt:
                # The lock replaces the requirements.txt that was the input, and its header sends the
                # user to requirements.in: that file keeps their requirements, as they wrote them.
                files[self.requirements_in] = read_user_file(self.requirements_txt)
            return files
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
            if settings.flag("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE"):
                return
            files = {self.last_analysis_id: analysis_id + "\n"}
            kind = analysis_kind(analysis_id)
            if kind is not None:
                files[self.last_analysis_ids] = json.dumps({**self._ids_by_kind(), kind: analysis_id}, indent=2) + "\n"
            atomic_write_many(files)
        except (ConfigurationError, ProjectWriteError) as exc:  # remembering is a convenience, never a failure
            _LOGGER.warning("%s", exc.message)

    def _ids_by_kind(self) -> dict[str, str]:
        try:
            data = json.loads(self.last_analysis_ids.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if k in ANALYSIS_KINDS and isinstance(v, str)} if isinstance(data, dict) else {}

    def recall_analysis_id(self, kind: str | None = None) -> str | None:
        """The last analysis id (of ``kind`` when given: ``adviser`` or ``provenance-checker``)."""
        try:
            value = self.last_analysis_id.read_text(encoding="utf-8").strip() or None
        except OSError:
            value = None
        if kind is None or (value and analysis_kind(value) == kind):
            return value
        return self._ids_by_kind().get(kind)
