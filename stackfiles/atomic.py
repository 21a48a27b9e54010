"""The one atomic writer for files the user owns.

Every file is first written in full (and synced) to a temporary file beside it; only when all of
them are ready are they moved over their targets with ``os.replace``. A failure while preparing
leaves every target as it was, and a Ctrl-C during the renames is held back until they are done,
so a new lock never sits beside an old Pipfile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from stackfiles.errors import StackFileWriteError


def write_files_atomically(files: Mapping[Path, str]) -> None:
    """Write several text files so that each is either fully old or fully new."""
    prepared: list[tuple[Path, str]] = []
    try:
        for path, text in files.items():
            prepared.append((Path(path), _prepare(Path(path), text)))
        with _interrupts_deferred():
            for done, (path, temporary) in enumerate(prepared):
                try:
                    os.replace(temporary, path)
                except OSError as exc:  # e.g. a directory or an immutable file in the way: name it
                    written = ", ".join(str(p) for p, _t in prepared[:done])
                    kept = f"; {written} already written" if written else "; no file was changed"
                    raise StackFileWriteError(f"Cannot write {path}: {exc.strerror or exc}{kept}") from None
    except BaseException:
        for _path, temporary in prepared:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise


def write_file_atomically(path: Path, text: str) -> None:
    write_files_atomically({Path(path): text})


def check_writable(directory: Path) -> None:
    """StackFileWriteError unless files can be created in ``directory`` (tried, not guessed)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".thamos-write-check.", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise StackFileWriteError(f"Cannot write to {directory}: {exc.strerror or exc}") from None


def _prepare(path: Path, text: str) -> str:
    """A synced temporary copy of ``text`` beside ``path``, with the mode ``path`` has (or would get)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StackFileWriteError(f"Cannot write {path}: {exc.strerror or exc}; no file was changed") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(path))
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise StackFileWriteError(f"Cannot write {path}: {exc.strerror or exc}; no file was changed") from None
        raise
    return temporary


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:  # mkstemp creates 0600 files; a new file gets the usual mode instead
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Postpone SIGINT until the block is done (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
