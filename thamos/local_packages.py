"""Local path packages (``mylib = {path = "./mylib", editable = true}``), prepared on this machine.

Their code lives here, not on the backend (a team server never reads a client's paths): thamos
prepares each one's core metadata itself, with ``sourcebuild`` (a sandboxed PEP 517
``prepare_metadata_for_build_wheel``; the local interpreter of the target's Python version when
there is one; build requirements from the project's own indexes), and sends it with the request
as ``local_packages``. A wheel file is read directly.
"""

from __future__ import annotations

import logging
import os
import zipfile
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from .exceptions import BadInputError, ThamosError

_LOGGER = logging.getLogger(__name__)

try:  # pip's own default index, read from its internals: missing when pip is, or when they move
    from pip._internal.models.index import PyPI

    _PIP_DEFAULT_INDEX: str | None = PyPI.simple_url
except Exception:  # noqa: BLE001 - any failure means "unknown", reported where it is needed
    _PIP_DEFAULT_INDEX = None


def pipfile_path_entries(pipfile: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(section, name, entry) of every Pipfile package given by ``path``."""
    found = []
    for section in ("packages", "dev-packages"):
        for name, entry in (pipfile.get(section) or {}).items():
            if isinstance(entry, dict) and "path" in entry:
                found.append((section, name, entry))
    return found


def prepare_local_packages(
    directory: Path,
    entries: list[tuple[str, str, dict[str, Any]]],
    *,
    python_version: str | None,
    index_urls: list[str],
) -> list[dict[str, Any]]:
    """``[{name, version, path, editable, metadata}]`` for the request; BadInputError naming a bad entry."""
    if not entries:
        return []
    prepared = []
    for section, name, entry in entries:
        where = f"Pipfile [{section}] {name}"
        path = entry.get("path")
        if not isinstance(path, str) or not path.strip():
            raise BadInputError(f"{where}: path must be a non-empty string such as \"./{name}\"")
        source = (directory / path).resolve()
        if not source.exists():
            raise BadInputError(f"{where}: {path} does not exist (relative to {directory})")
        metadata = _metadata(source, where, python_version, index_urls)
        headers = BytesHeaderParser().parsebytes(metadata)
        found_name, version = headers.get("Name"), headers.get("Version")
        if not found_name or not version:
            raise BadInputError(f"{where}: the metadata prepared from {path} has no Name or Version")
        if canonicalize_name(found_name) != canonicalize_name(name):
            raise BadInputError(
                f"{where}: {path} is the project {found_name!r}, not {name!r}; name the entry {found_name}"
            )
        prepared.append({
            "name": name,
            "version": str(version),
            "path": path,
            "editable": bool(entry.get("editable", False)),
            "metadata": metadata.decode("utf-8", "replace"),
        })
    return prepared


def _metadata(source: Path, where: str, python_version: str | None, index_urls: list[str]) -> bytes:
    if source.is_file() and source.name.endswith(".whl"):
        return _wheel_metadata(source, where)
    try:
        import sourcebuild  # about 22 ms, for local path packages only; missing in a broken installation
    except ImportError as exc:  # an incomplete installation of thamos
        raise ThamosError(f"{where}: the build tools needed for local path packages are missing ({exc})") from None
    interpreter = sourcebuild.find_interpreter(python_version)
    if python_version and not interpreter.matched:
        _LOGGER.warning(
            "%s: no Python %s found here; preparing its metadata with %s", where, python_version,
            interpreter.describe(),
        )
    index_urls = index_urls or [default_index_url()]
    indexes = sourcebuild.IndexConfig(index_url=index_urls[0], extra_index_urls=tuple(index_urls[1:]))
    _LOGGER.info("%s: preparing the metadata of %s with %s", where, source, interpreter.describe())
    try:
        built = sourcebuild.prepare_metadata(source, interpreter=interpreter, indexes=indexes,
                                             log=lambda line: _LOGGER.debug("%s: %s", where, line))
    except sourcebuild.BuildFailed as failure:
        raise BadInputError(f"{where}: preparing the metadata of {source} failed: {failure.reason}") from None
    return built.metadata


def _wheel_metadata(path: Path, where: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")),
                        None)
            if name is None:
                raise BadInputError(f"{where}: {path.name} has no .dist-info/METADATA")
            return archive.read(name)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInputError(f"{where}: cannot read the wheel {path}: {exc}") from None


def default_index_url() -> str:
    """Where build requirements come from when the Pipfile names no [[source]]: pip's index."""
    configured = os.environ.get("PIP_INDEX_URL")
    if configured:
        return configured
    if _PIP_DEFAULT_INDEX is None:
        raise BadInputError("the Pipfile has no [[source]] and pip's default index cannot be read; "
                            "add a [[source]] or set PIP_INDEX_URL") from None
    return _PIP_DEFAULT_INDEX
