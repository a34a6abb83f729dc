"""Pacing of messages sent to one chat, and the bot's global budget when shared.

Telegram asks bots not to send more than about one message per second to the same
chat; python-telegram-bot's ``AIORateLimiter`` enforces the global and group limits,
and this keeps the per-chat gap when one answer is made of several messages.

With several bot processes (``REDIS_URL``), a chat's messages may come from any of
them (one answers, the other sends a CFA's message), so the gap is a slot reserved in
Redis (:meth:`akto_data.shared_state.SharedState.reserve`), and so is Telegram's global
budget of about 30 messages a second (:class:`SharedRateLimiter`): python-telegram-bot's
limiter counts only its own process, and halving each process's budget would waste half
of it whenever one process is idle (and be wrong again with three). If Redis does not
answer, each process falls back to its own pacing and budget (logged by the shared state).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

from akto_data.shared_state import SharedState, Unavailable


class ChatPacer:
    def __init__(self, min_interval: float, clock: Callable[[], float] = time.monotonic,
                 shared: SharedState | None = None) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._last: dict[int | str, float] = {}
        self.shared = shared

    def delay_for(self, chat_id: int | str) -> float:
        """Seconds to wait before the next message to ``chat_id`` may go (this process's view)."""
        last = self._last.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.min_interval - self._clock())

    async def wait(self, chat_id: int | str) -> None:
        delay: float | None = None
        if self.shared is not None and self.min_interval > 0:
            try:
                delay = await self.shared.reserve(f"pace:{chat_id}", self.min_interval)
            except Unavailable:
                delay = None
        if delay is None:
            delay = self.delay_for(chat_id)
        if delay:
            await asyncio.sleep(delay)
        self._last[chat_id] = self._clock()
        if len(self._last) > 10_000:  # forget chats idle for long, keep memory bounded
            horizon = self._clock() - 60
            self._last = {k: v for k, v in self._last.items() if v > horizon}


class _SharedSlot:
    """Stands in for ``AIORateLimiter``'s overall limiter: one Redis slot per request."""

    def __init__(self, shared: SharedState, rate: float, fallback: Any) -> None:
        self.shared = shared
        self.interval = 1.0 / rate
        self.fallback = fallback

    async def __aenter__(self) -> None:
        try:
            # A second's worth may go at once (as aiolimiter's bucket allows), then one per interval.
            delay = await self.shared.reserve("global", self.interval, burst=1.0 - self.interval)
        except Unavailable:
            await self.fallback.acquire()  # this process's own budget while Redis is away
            return
        if delay:
            await asyncio.sleep(delay)

    async def __aexit__(self, *_exc: object) -> None:
        return None


class SharedRateLimiter(AIORateLimiter):
    """python-telegram-bot's limiter (group limits, retry-after handling unchanged) whose overall
    budget of ``overall_max_rate`` messages a second is shared by every process of the bot."""

    def __init__(self, shared: SharedState, overall_max_rate: float = FloodLimit.MESSAGES_PER_SECOND) -> None:
        super().__init__(overall_max_rate=overall_max_rate)
        own = self._base_limiter
        self._base_limiter = cast(Any, _SharedSlot(shared, overall_max_rate, own))
