"""Update scheduling: one chat in order, different chats at the same time.

python-telegram-bot processes updates one by one by default. We let it run many at
once, but serialise the updates of each chat with a lock, so a user's second message
is never answered before their first. The flood limit is checked here, on arrival,
so a spammer's extra messages are dropped before they queue behind the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.guard import Admission, FloodLimiter

OnFlood = Callable[[Update], Awaitable[None]]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int, flood: FloodLimiter, on_flood: OnFlood) -> None:
        super().__init__(max_concurrent_updates)
        self._flood = flood
        self._on_flood = on_flood
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update) or update.effective_chat is None:
            await coroutine
            return
        user = update.effective_user
        # Presses of our own buttons are not counted: each keyboard answers once, so
        # they cannot flood, and a quiz taken quickly must not be cut short.
        if user is not None and update.callback_query is None:
            admission = self._flood.admit(str(user.id))
            if admission is not Admission.ACCEPT:
                coroutine.close()  # type: ignore[attr-defined]
                if admission is Admission.WARN:
                    await self._on_flood(update)
                return
        chat_id = update.effective_chat.id
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]
                self._locks.pop(chat_id, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        self._flood.forget_idle()
