"""Putting the source into the build's own folder: sdists extracted safely, trees copied.

The original is never touched: backends write into the tree they build (egg-info, build/), so
they get a copy. Tar members may not leave the folder nor link outside it (tarfile's "data"
filter, or links dropped on a Python without it); zip names are checked the same way. Content is
counted before it is written, so an archive bomb stops at the ceiling.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
# Unpacked content may be this many times the archive ceiling (sdists compress about 4:1).
UNPACKED_FACTOR = 4
# Folders that never matter to a build and can be huge: caches and virtual environments.
_SKIPPED_FOLDERS = {"__pycache__", ".tox", ".nox", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
MiB = 1024 * 1024
# Pythons before 3.10.12 / 3.11.4 have no extraction filters (nor their error).
_FILTER_ERROR = getattr(tarfile, "FilterError", ())


class SourceError(ValueError):
    """The source cannot be used; the message says why in one line."""


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def place_source(source: Path, folder: Path, max_source_mb: int) -> Path:
    """Copy or extract ``source`` under ``folder``; the project's root directory in there."""
    folder.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        target = folder / (source.name or "project")
        _copy_tree(source, target, max_source_mb * MiB)
        root = target
    elif source.name.lower().endswith(".zip"):
        _extract_zip(source, folder, max_source_mb * MiB * UNPACKED_FACTOR)
        root = _project_root(folder)
    else:
        _extract_tar(source, folder, max_source_mb * MiB * UNPACKED_FACTOR)
        root = _project_root(folder)
    if not (root / "pyproject.toml").is_file() and not (root / "setup.py").is_file():
        raise SourceError(f"{source.name} has neither pyproject.toml nor setup.py at its top")
    return root


def _too_big(name: str, ceiling: int, what: str) -> SourceError:
    return SourceError(f"{name} {what} more than {ceiling // MiB} MB, the ceiling for a build's source")


def _extract_tar(archive_path: Path, folder: Path, ceiling: int) -> None:
    try:
        with tarfile.open(archive_path) as archive:
            members = archive.getmembers()
            if sum(member.size for member in members if member.isfile()) > ceiling:
                raise _too_big(archive_path.name, ceiling, "unpacks to")
            for member in members:  # refused outright, where the filter would only strip the "/"
                _check_name(member.name, archive_path.name)
            if hasattr(tarfile, "data_filter"):
                archive.extractall(folder, filter="data")
            else:  # a Python without extraction filters: plain files and folders only
                archive.extractall(folder, members=[member for member in members if member.isfile() or member.isdir()])
    except _FILTER_ERROR as error:
        raise SourceError(f"{archive_path.name} has an unsafe member: {error}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        if isinstance(error, SourceError):
            raise
        raise SourceError(f"{archive_path.name} is not a readable archive: {error}") from None


def _extract_zip(archive_path: Path, folder: Path, ceiling: int) -> None:
    try:
        with zipfile.ZipFile(archive_path) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > ceiling:
                raise _too_big(archive_path.name, ceiling, "unpacks to")
            for info in infos:
                _check_name(info.filename, archive_path.name)
            archive.extractall(folder)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        if isinstance(error, SourceError):
            raise
        raise SourceError(f"{archive_path.name} is not a readable archive: {error}") from None


def _check_name(name: str, archive_name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise SourceError(f"{archive_name} has an unsafe member: {name!r} points outside the archive")


def _project_root(folder: Path) -> Path:
    """An sdist holds one ``name-version/`` folder; anything else is taken as the root itself."""
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


def _copy_tree(source: Path, target: Path, ceiling: int) -> None:
    total = 0

    def skip(directory: str, names: list[str]) -> list[str]:
        nonlocal total
        skipped = []
        for name in names:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISLNK(info.st_mode):
                continue  # copied as a link, never followed
            if stat.S_ISDIR(info.st_mode):
                if name in _SKIPPED_FOLDERS or os.path.exists(os.path.join(directory, name, "pyvenv.cfg")):
                    skipped.append(name)
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > ceiling:
                    raise _too_big(source.name or str(source), ceiling, "holds")
            else:
                skipped.append(name)  # sockets, pipes, devices: copying a pipe would block
        return skipped

    try:
        shutil.copytree(source, target, symlinks=True, ignore=skip)
    except (shutil.Error, OSError) as error:
        raise SourceError(f"cannot copy {source.name or source}: {_first_error(error)}") from None
    # A read-only checkout gives read-only copies; backends write egg-info and build/ into the tree.
    for directory, _folders, _files in os.walk(target):
        os.chmod(directory, os.stat(directory).st_mode | stat.S_IWUSR | stat.S_IXUSR)


def _first_error(error: Exception) -> str:
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        return str(error.args[0][0][-1])
    return str(error)
