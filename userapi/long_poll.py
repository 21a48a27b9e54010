"""Long polls: result requests held until their analysis has finished (the ``wait`` parameter).

One look at the store every 10 ms serves every held request at once: a wait ends within ~10 ms
of the result being stored, however long the analysis ran, and the store answers one small query
per look whatever the number of waiters. It looks at the store, not at the workers, so it works
alike with the embedded pool and with a team's workers on other machines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

LOGGER = logging.getLogger(__name__)

LOOK_EVERY = 0.01  # seconds


class FinishWatch:
    """The held requests of one server, by analysis, and the task that looks for their ends."""

    def __init__(self, finished_among: Callable[[list[str]], set[str]]) -> None:
        self._finished_among = finished_among  # which of these analyses have finished (a store query)
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    async def wait(self, analysis_id: str, timeout: float) -> None:
        """Return once the analysis has finished or ``timeout`` seconds have passed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a restarted app): what waited on the old one is gone
            self._loop, self._waiters, self._task = loop, {}, None
        ended = loop.create_future()
        self._waiters.setdefault(analysis_id, []).append(ended)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._look())
        try:
            await asyncio.wait_for(ended, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(analysis_id)
            if waiting is not None and ended in waiting:
                waiting.remove(ended)
                if not waiting:
                    del self._waiters[analysis_id]

    async def _look(self) -> None:
        while self._waiters:
            await asyncio.sleep(LOOK_EVERY)
            ids = list(self._waiters)
            if not ids:
                break
            try:
                finished = await asyncio.to_thread(self._finished_among, ids)
            except Exception as exc:  # the store is unreachable: the waits run out, their answer says why
                LOGGER.debug("long poll: cannot look at the store: %s", exc)
                continue
            for analysis_id in finished:
                for ended in self._waiters.pop(analysis_id, []):
                    if not ended.done():
                        ended.set_result(None)
