"""Where prescriptions come from: local directories, or git repositories cloned into the cache.

A git source (``https://…``, ``ssh://…``, ``git@host:…``, ``file://…`` or ``….git``, optionally
``#ref``) is cloned shallowly into ``<cache>/prescriptions/git/<hash>`` and fetched again when the
copy is older than the refresh interval. A failed clone or fetch keeps the last good copy and is
reported with the source (credentials never appear in messages).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from adviser.prescriptions.compiled import Source

GIT_TIMEOUT = 300.0
_FETCHED = ".thamos-fetched"


def is_git_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "git://", "ssh://", "file://", "git@")) or text.split("#")[0].endswith(".git")


def redacted(url: str) -> str:
    """The URL without its user-info part (tokens stay out of messages and listings)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def source_label(text: str) -> str:
    """How a configured source is named in listings and messages (git credentials removed)."""
    text = str(text).strip()
    return redacted(text) if is_git_url(text) else text


def resolve_sources(configured: Sequence[str], cache_dir: Path, refresh: float = 3600.0, log=None) -> list[Source]:
    """Each configured source as a local directory to read (git sources cloned or refreshed)."""
    log = log or (lambda _message: None)
    sources = []
    for text in configured:
        text = str(text).strip()
        if not text:
            continue
        if is_git_url(text):
            sources.append(_git_source(text, Path(cache_dir), refresh, log))
        else:
            path = Path(text).expanduser()
            problem = None if path.is_dir() else f"{text}: no such directory"
            sources.append(Source(text, str(path.resolve()) if path.is_dir() else "", None, problem))
    return sources


def _git(*args: str, cwd: Path | None = None) -> str:
    environment = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true")
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                               env=environment, check=False)
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"git {args[0]} failed")
    return completed.stdout.strip()


def _git_source(text: str, cache_dir: Path, refresh: float, log) -> Source:
    url, _, ref = text.partition("#")
    label = redacted(text)
    checkout = cache_dir / "prescriptions" / "git" / hashlib.sha256(text.encode()).hexdigest()[:16]
    marker = checkout / _FETCHED
    problem = None
    fresh = marker.is_file() and time.time() - marker.stat().st_mtime < refresh
    if not fresh:
        try:
            _fetch(url, ref, checkout)
            marker.touch()
            log(f"prescriptions: {label} fetched")
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            message = redacted_text(str(exc), url)
            kept = "; the last good copy is used" if marker.is_file() else ""
            problem = f"{label}: git fetch failed ({message}){kept}"
            log(f"prescriptions: {problem}")
    if not marker.is_file():
        return Source(label, "", None, problem or f"{label}: never fetched")
    try:
        commit = _git("rev-parse", "HEAD", cwd=checkout)
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        commit = None
    return Source(label, str(checkout), commit, problem)


def redacted_text(message: str, url: str) -> str:
    return message.replace(url, redacted(url)) if url != redacted(url) else message


def _fetch(url: str, ref: str, checkout: Path) -> None:
    """Clone into a new directory (then swap) or fetch into the existing copy."""
    if (checkout / ".git").is_dir():
        _git("fetch", "--depth", "1", "origin", ref or "HEAD", cwd=checkout)
        _git("reset", "--hard", "FETCH_HEAD", cwd=checkout)
        return
    fresh = checkout.with_name(checkout.name + f".{os.getpid()}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    try:
        _git("clone", "--depth", "1", *(("--branch", ref) if ref else ()), url, str(fresh))
        shutil.rmtree(checkout, ignore_errors=True)
        os.replace(fresh, checkout)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
