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

Several bot processes behind one webhook (``REDIS_URL``, ``shared``): the same rules
hold across them. The limits are counted in Redis; the chat's queue is a Redis sorted
set by ``update_id`` that the holder of the chat's Redis lock works through, whichever
process received each update (:mod:`akto_data.shared_state`), and :meth:`sweep` runs
the chats a dead process left with pending updates. If Redis does not answer, the
process falls back to its own limits and queue (the update is run here, never
dropped); an update already handed to Redis may then run twice once Redis is back,
which the stable ``message_id`` sent to Rasa turns into a repeated answer at worst.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from akto_data.shared_state import LOCK_TTL, ChatQueue, SharedState, Unavailable
from bot.guard import Admission, FloodLimiter

log = logging.getLogger(__name__)

OnFlood = Callable[[Update], Awaitable[None]]
#: Runs an update received by any process, from its JSON (``Update.to_dict()``).
RunUpdate = Callable[[dict[str, Any]], Awaitable[None]]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int, flood: FloodLimiter, on_flood: OnFlood | None,
                 presses: FloodLimiter | None = None, *, shared: SharedState | None = None,
                 run_update: RunUpdate | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._flood = flood
        self._presses = presses
        self._on_flood = on_flood
        #: Chats with an update running; the deque holds their updates still to run, in order.
        self._queues: dict[int, deque[Awaitable[Any]]] = {}
        self.shared = shared
        #: Set by the front once its application exists (runs updates queued by other processes).
        self.run_update = run_update

    def _limiter_for(self, update: Update) -> FloodLimiter | None:
        return self._presses if update.callback_query is not None else self._flood

    async def _admit(self, update: Update, user_key: str) -> Admission:
        limiter = self._limiter_for(update)
        if limiter is None:
            return Admission.ACCEPT
        if self.shared is not None:
            kind = "press" if update.callback_query is not None else "message"
            try:
                return Admission(await self.shared.admit(kind, user_key, limiter.max_messages, limiter.window))
            except Unavailable:
                pass  # this process's own count while Redis is away
        return limiter.admit(user_key)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update) or update.effective_chat is None:
            await coroutine
            return
        user = update.effective_user
        if user is not None:
            admission = await self._admit(update, str(user.id))
            if admission is not Admission.ACCEPT:
                _close(coroutine)
                if admission is Admission.WARN and self._on_flood is not None:
                    await self._on_flood(update)
                return
        chat_id = update.effective_chat.id
        if self.shared is not None and self.run_update is not None:
            with contextlib.suppress(Unavailable):  # Redis away: run it here, in this process's order
                if await self._shared_run(update, coroutine, self.shared.chat_queue(chat_id)):
                    return
        await self._local_run(chat_id, coroutine)

    async def _local_run(self, chat_id: int, coroutine: Awaitable[Any]) -> None:
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

    async def _shared_run(self, update: Update, coroutine: Awaitable[Any], queue: ChatQueue) -> bool:
        """Queue ``update`` in Redis and run the chat's queue if nobody does; False if it must run here.

        Raises :class:`Unavailable` when Redis did not take it (the caller runs it here).
        """
        payload = json.dumps(update.to_dict(), separators=(",", ":"))
        # Unavailable: maybe queued, but nobody may run it: the caller runs it here (at least once).
        if not await queue.add_and_lock(update.update_id, payload):
            _close(coroutine)  # the chat's holder (maybe another process) runs it in order
            return True
        own = _Own(payload, coroutine)
        try:
            await self._drain(queue, own)
        except Unavailable:
            if own.coroutine is not None:  # Redis went away before its turn: run it here, never drop it
                await _run(own.coroutine)
                own.coroutine = None
        if own.coroutine is not None:  # the lock was lost: the new holder runs it from Redis
            _close(own.coroutine)
        return True

    async def _drain(self, queue: ChatQueue, own: _Own | None) -> None:
        """Run the chat's pending updates in ``update_id`` order while holding its lock.

        ``own`` (this process's coroutine of the update that made it take the lock) is run
        as is when its turn comes. The lock is renewed in the background; each step checks
        it is still ours (if this process stalled past :data:`LOCK_TTL`, the new holder goes on).
        """
        async def keep() -> None:
            while True:
                await asyncio.sleep(LOCK_TTL / 3)
                with contextlib.suppress(Unavailable):
                    if not await queue.renew():
                        return

        keeper = asyncio.create_task(keep())
        ran: str | None = None
        try:
            while (step := await queue.next(ran)) is not None:
                _update_id, payload = step
                ran = None
                if own is not None and own.coroutine is not None and payload == own.payload:
                    running, own.coroutine = own.coroutine, None
                    await _run(running)
                else:
                    await self._run_payload(payload)
                ran = payload
        except asyncio.CancelledError:
            # The process is stopping: the chat goes to another process at its next sweep rather than
            # when the lock expires (the update cut short stays queued and runs there again).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.release(), 1.0)
            raise
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _run_payload(self, payload: str) -> None:
        assert self.run_update is not None
        try:
            await self.run_update(json.loads(payload))
        except Exception:
            log.exception("queued update failed")

    async def sweep(self) -> int:
        """Run the chats whose holder went away with updates pending; how many chats were run."""
        if self.shared is None or self.run_update is None:
            return 0
        taken = []
        try:
            for chat in await self.shared.orphans():
                queue = self.shared.chat_queue(chat)
                if await queue.lock():
                    taken.append(queue)
        except Unavailable:
            pass  # logged once by the shared state; the next round tries again
        # Side by side: one chat waiting on a slow Rasa must not hold up the others.
        results = await asyncio.gather(*(self._drain(queue, None) for queue in taken), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Unavailable):
                log.error("sweeping a chat failed: %r", result)
        return len(taken)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        self._flood.forget_idle()
        if self._presses is not None:
            self._presses.forget_idle()


class _Own:
    """The coroutine python-telegram-bot made for the update this process received (None once run)."""

    def __init__(self, payload: str, coroutine: Awaitable[Any]) -> None:
        self.payload = payload
        self.coroutine: Awaitable[Any] | None = coroutine


async def _run(coroutine: Awaitable[Any]) -> None:
    """Run one update; an error must not stop the chat's queue (PTB already reported it)."""
    try:
        await coroutine
    except Exception:
        log.exception("update failed outside the handlers")


def _close(coroutine: Awaitable[Any]) -> None:
    if isinstance(coroutine, Coroutine):
        coroutine.close()
