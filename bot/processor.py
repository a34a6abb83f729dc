"""Update scheduling: one chat in order, different chats at the same time.

python-telegram-bot processes updates one by one by default. We let it run many at
once, but the updates of each chat run one after the other, so a user's second
message is never answered before their first.

A chat waiting for its turn holds none of the application's global update slots
(``max_concurrent_updates``): the first update of a chat runs, later ones are put
in that chat's queue and their slot is given back at once; the running update then
works through the queue. A busy chat therefore holds one slot, whatever it sends:
before this, twenty button presses by one user held eight slots while waiting for
their chat's lock, and another user's answer waited seconds behind them.

The flood limits are checked here, on arrival, so extra updates are dropped before
they queue. Messages and commands share one limit; presses of our buttons have their
own, looser one (a quiz answered quickly must not be cut short, but a client
hammering buttons is slowed down too). A dropped update is lost on purpose: the
user was told once, and a dropped press leaves its keyboard usable.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.guard import Admission, FloodLimiter

log = logging.getLogger(__name__)

OnFlood = Callable[[Update], Awaitable[None]]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int, flood: FloodLimiter, on_flood: OnFlood | None,
                 presses: FloodLimiter | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._flood = flood
        self._presses = presses
        self._on_flood = on_flood
        #: Chats with an update running; the deque holds their updates still to run, in order.
        self._queues: dict[int, deque[Awaitable[Any]]] = {}

    def _limiter_for(self, update: Update) -> FloodLimiter | None:
        return self._presses if update.callback_query is not None else self._flood

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update) or update.effective_chat is None:
            await coroutine
            return
        user = update.effective_user
        limiter = self._limiter_for(update)
        if user is not None and limiter is not None:
            admission = limiter.admit(str(user.id))
            if admission is not Admission.ACCEPT:
                _close(coroutine)
                if admission is Admission.WARN and self._on_flood is not None:
                    await self._on_flood(update)
                return
        chat_id = update.effective_chat.id
        queue = self._queues.get(chat_id)
        if queue is not None:  # the chat is busy: its running update will run this one, in order
            queue.append(coroutine)
            return
        self._queues[chat_id] = queue = deque()
        try:
            await _run(coroutine)
            while queue:
                await _run(queue.popleft())
        finally:
            del self._queues[chat_id]
            for left in queue:  # only when cancelled (shutdown): nothing may stay un-awaited
                _close(left)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        self._flood.forget_idle()
        if self._presses is not None:
            self._presses.forget_idle()


async def _run(coroutine: Awaitable[Any]) -> None:
    """Run one update; an error must not stop the chat's queue (PTB already reported it)."""
    try:
        await coroutine
    except Exception:
        log.exception("update failed outside the handlers")


def _close(coroutine: Awaitable[Any]) -> None:
    if isinstance(coroutine, Coroutine):
        coroutine.close()
