"""A round of work repeated on the bot's event loop (status notices, advisors' messages).

One place for the loop's rules: a failed round is logged and the next one comes after
``interval`` (a database hiccup must not stop the task); ``stop`` cancels and waits.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

log = logging.getLogger(__name__)


class PeriodicTask:
    """Subclasses define :meth:`run_once`; ``name`` names the asyncio task and the log line."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database hiccup: try again next round
                log.exception("%s round failed", self.name)
            await asyncio.sleep(self.interval)
