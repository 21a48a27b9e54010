"""What a running analysis is doing, for the status line while ``thamos advise`` waits.

The status document says only pending or running; the analysis log says more, for instance that
the adviser is building an sdist's metadata (seconds to minutes). The log is read only while the
analysis runs, only once it has run for LOG_INTERVAL seconds and then at most every LOG_INTERVAL
seconds: a quick analysis costs no extra request. Reading it uses the log endpoint every server
has (Thoth 1.x ones too); any failure just ends the watching, never the wait.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

LOG_INTERVAL = 2.0
BUILD_START = "building metadata of "
BUILD_END = "built metadata of "
_PATH = re.compile(r" \(/[^)]*\)")  # the interpreter's path: long, and not what the user waits for


def current_build(log: str) -> str | None:
    """The build in progress according to an analysis log (its last build line is a start), or None."""
    for raw in reversed(log.splitlines()):
        line = raw.strip()
        if line.startswith(BUILD_END):
            return None
        if line.startswith(BUILD_START):
            return _PATH.sub("", line) if " (sdist) with " in line else None
    return None


class LogWatch:
    """Turns the polled state into a status text, with the build in progress when there is one."""

    def __init__(self, read_log: Callable[[], str], clock: Callable[[], float] = time.monotonic) -> None:
        self._read_log = read_log
        self._clock = clock
        self._running_since: float | None = None
        self._last_read = float("-inf")
        self._detail: str | None = None
        self._enabled = True

    def describe(self, state: str) -> str:
        if state != "running":
            return state
        now = self._clock()
        if self._running_since is None:
            self._running_since = now
        due = now - self._running_since >= LOG_INTERVAL and now - self._last_read >= LOG_INTERVAL
        if self._enabled and due:
            self._last_read = now
            try:
                self._detail = current_build(self._read_log())
            except Exception:  # noqa: BLE001 - an older server, a hiccup: the plain state is enough
                self._enabled, self._detail = False, None
        return f"{state}, {self._detail}" if self._detail else state
