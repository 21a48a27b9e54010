"""An advisory database fetched from a URL (an OSV zip, e.g. the OSV export of the Python
ecosystem, or an advisory bundle), kept as a local bundle and refreshed periodically.

The server runs an ``AdvisoryRefresher``; analyses (in the server or in worker processes) only read
the last good local copy (``local_copy``), so a refresh that fails keeps what was there. A copy is
turned into a bundle (``adviser.advisory_bundle``) when downloaded: read per package afterwards,
naming the URL (without credentials) and the snapshot's date. Why the last refresh failed is kept
next to the copy, for the analyses' reports.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

LOGGER = logging.getLogger("adviser.advisories")
DEFAULT_INTERVAL = 24 * 3600.0
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024  # the Python ecosystem's OSV export is tens of MB


def is_url(spec: object) -> bool:
    return isinstance(spec, str) and spec.strip().lower().startswith(("http://", "https://"))


def redact_url(url: str) -> str:
    """The URL without user name and password, as logs and reports show it."""
    return re.sub(r"^(https?://)[^/@\s]*@", r"\1***@", url.strip(), flags=re.IGNORECASE)


def local_copy(url: str, cache_dir: Path) -> Path:
    """Where the last good copy of ``url`` is kept (one place per URL in the cache directory)."""
    digest = hashlib.sha256(url.strip().encode()).hexdigest()[:16]
    return Path(cache_dir) / "advisories" / "downloads" / f"{digest}.zip"


def failure_file(copy: Path) -> Path:
    return copy.with_name(copy.name + ".failed")


def last_failure(copy: Path) -> str | None:
    try:
        return failure_file(copy).read_text().strip() or None
    except OSError:
        return None


def _download(url: str, into: Path, timeout: float, deadline: float) -> None:
    """The body of ``url`` into ``into``, within ``deadline`` seconds in total and the size cap."""
    started = time.monotonic()
    parts = urlsplit(url.strip())
    headers = {"User-Agent": "thamos-advisories"}
    if parts.username is not None:  # credentials go in a header; urllib does not read them from the URL
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    request = urllib.request.Request(urlunsplit(parts), headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response, open(into, "wb") as out:  # noqa: S310
        received = 0
        while chunk := response.read(1024 * 1024):
            received += len(chunk)
            if received > MAX_DOWNLOAD_BYTES:
                raise OSError(f"larger than {MAX_DOWNLOAD_BYTES // (1024 * 1024)} MB")
            if time.monotonic() - started > deadline:
                raise OSError(f"download not finished within {deadline:g}s")
            out.write(chunk)


def fetch(url: str, cache_dir: Path, *, timeout: float = 60.0, deadline: float = 600.0) -> dict:
    """Download ``url``, check it is an OSV zip (or a bundle), and make it the local copy; the
    bundle's index. Raises OSError or AdvisoryDatabaseError, leaving the previous copy in place."""
    from adviser.advisories import parse_snapshot
    from adviser.advisory_bundle import Bundle, build_bundle, is_bundle

    copy = local_copy(url, cache_dir)
    copy.parent.mkdir(parents=True, exist_ok=True)
    # Names of this process only: several server processes may refresh the same copy at once.
    download = copy.with_name(f"{copy.stem}.{os.getpid()}.download.zip")
    try:
        _download(url, download, timeout, deadline)
        if is_bundle(download):
            index = Bundle(download).index
            partial = copy.with_name(f"{copy.name}.{os.getpid()}.partial")
            shutil.copyfile(download, partial)
            os.replace(partial, copy)
            return index
        records, newest = parse_snapshot(download)  # an unreadable document raises, naming it
        if not records:
            from adviser.advisories import AdvisoryDatabaseError

            raise AdvisoryDatabaseError("no PyPI advisory in the archive")
        return build_bundle(records, newest, copy, source=redact_url(url), date=None)
    finally:
        download.unlink(missing_ok=True)


class AdvisoryRefresher:
    """Keeps the local copy of an advisory URL fresh: at start when missing or older than the
    interval, then every interval; a failed refresh is logged and recorded, the old copy stays."""

    def __init__(self, url: str, cache_dir: Path, interval: float = DEFAULT_INTERVAL,
                 log: Callable[[int, str], None] | None = None) -> None:
        self.url = url
        self.cache_dir = Path(cache_dir)
        self.interval = max(float(interval), 1.0)
        self.copy = local_copy(url, cache_dir)
        self._log = log or (lambda level, message: LOGGER.log(level, "%s", message))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """One refresh; whether it succeeded."""
        shown = redact_url(self.url)
        try:
            index = fetch(self.url, self.cache_dir)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good copy
            reason = redact_url(str(exc)) if str(exc) else type(exc).__name__
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            kept = "the last good copy is kept" if self.copy.is_file() else "no copy yet: the shipped snapshot is used"
            self._log(logging.WARNING, f"advisory refresh from {shown} failed ({reason}); {kept}")
            try:
                self.copy.parent.mkdir(parents=True, exist_ok=True)
                failure_file(self.copy).write_text(f"{stamp}: {reason}")
            except OSError:
                pass
            return False
        failure_file(self.copy).unlink(missing_ok=True)
        self._log(logging.INFO, f"advisory snapshot {index.get('source')} of {index.get('date') or 'unknown date'}: "
                                f"{index.get('advisories')} advisories for {index.get('packages')} packages (refreshed)")
        return True

    def due(self) -> float:
        """Seconds until the next refresh (0: now)."""
        try:
            age = time.time() - self.copy.stat().st_mtime
        except OSError:
            return 0.0
        return max(self.interval - age, 0.0)

    def _run(self) -> None:
        while not self._stop.wait(self.due()):
            if not self.refresh():
                # A failing source is retried sooner than the interval, but not in a tight loop.
                if self._stop.wait(min(self.interval, 300.0)):
                    return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="advisory-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
