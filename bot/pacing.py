"""Pacing of messages sent to one chat.

Telegram asks bots not to send more than about one message per second to the same
chat; python-telegram-bot's ``AIORateLimiter`` enforces the global and group limits,
and this keeps the per-chat gap when one answer is made of several messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ChatPacer:
    def __init__(self, min_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._last: dict[int | str, float] = {}

    def delay_for(self, chat_id: int | str) -> float:
        """Seconds to wait before the next message to ``chat_id`` may go."""
        last = self._last.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.min_interval - self._clock())

    async def wait(self, chat_id: int | str) -> None:
        delay = self.delay_for(chat_id)
        if delay:
            await asyncio.sleep(delay)
        self._last[chat_id] = self._clock()
        if len(self._last) > 10_000:  # forget chats idle for long, keep memory bounded
            horizon = self._clock() - 60
            self._last = {k: v for k, v in self._last.items() if v > horizon}
