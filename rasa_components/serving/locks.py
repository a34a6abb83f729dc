"""Rasa's Redis lock store, made safe for several Rasa servers (issue 14, topology).

Configured in ``endpoints.production.yml`` as
``type: rasa_components.serving.locks.AtomicRedisLockStore`` (same keys as Rasa's
``type: redis``). Rasa 3.6's ``RedisLockStore`` serialises one conversation with a
ticket lock kept in one Redis key, but:

1. **Tickets are not issued atomically.** Issuing reads the key, adds a ticket and writes
   it back, with no transaction: two servers receiving a message of the same chat at the
   same moment can both read "no lock", both write ticket 0, and both process at once
   (two answers computed on the same tracker, events interleaved). Here every change of
   the key is one Redis transaction (``WATCH``/``MULTI``, retried on conflict).
2. **A ticket lives a fixed time** (``TICKET_LOCK_LIFETIME``, 60 s by default). A server
   killed while holding a chat's lock stalls that chat for the whole lifetime; a
   lifetime short enough to recover fast lets a slow message's lock expire while it
   is still processed. Here each server renews the tickets it holds or waits with
   (every third of the lifetime) for as long as it is alive, so the lifetime can be short
   (the topology sets 10 s): a killed server's tickets expire 10 s after its death, a
   live server's never.
3. A waiting message polls the lock every second; here every 50 ms (a Redis ``GET``), so
   the second of two messages sent together is not delayed by up to a second.

The key also expires with its last ticket, so a dead server leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)

#: Polling interval of a message waiting for its conversation's lock (seconds).
WAIT_INTERVAL = 0.05


def configured_lifetime() -> float:
    """``TICKET_LOCK_LIFETIME`` (Rasa's variable), 60 s when unset as in Rasa."""
    return float(os.environ.get("TICKET_LOCK_LIFETIME") or 60)


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic ticket changes and tickets renewed while their server lives."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        kwargs = dict(endpoint_config.kwargs)
        kwargs.pop("type", None)
        super().__init__(host=endpoint_config.url or "localhost", **kwargs)

    # -- every change of the lock key is one transaction --------------------------------------------------------
    def _change(self, conversation_id: str, change: Callable[[TicketLock], Any]) -> Any:
        """Apply ``change`` to the stored lock in a Redis transaction; returns what ``change`` returned."""
        key = self.key_prefix + conversation_id
        outcome: list[Any] = []

        def transaction(pipe: Any) -> None:
            outcome.clear()
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else TicketLock(conversation_id)
            outcome.append(change(lock))
            lock.remove_expired_tickets()
            pipe.multi()
            if lock.tickets:
                expires = max(ticket.expires for ticket in lock.tickets)
                pipe.set(key, lock.dumps(), px=max(1, int((expires - time.time()) * 1000) + 1000))
            else:
                pipe.delete(key)

        self.red.transaction(transaction, key)
        return outcome[0] if outcome else None

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 0) -> int:
        lifetime = lock_lifetime or configured_lifetime()
        try:
            return int(self._change(conversation_id, lambda lock: lock.issue_ticket(lifetime)))
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: None)  # drops expired tickets

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)  # the key goes with its last ticket

    def renew(self, conversation_id: str, ticket_number: int, lifetime: float) -> bool:
        """Push our ticket's expiry ``lifetime`` seconds ahead; False if it is gone."""
        def change(lock: TicketLock) -> bool:
            for ticket in lock.tickets:
                if ticket.number == ticket_number:
                    ticket.expires = time.time() + lifetime
                    return True
            return False

        return bool(self._change(conversation_id, change))

    # -- the lock, renewed while held or waited for ----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = 0,
                   wait_time_in_seconds: float = WAIT_INTERVAL) -> AsyncIterator[TicketLock]:
        lifetime = lock_lifetime or configured_lifetime()
        ticket = self.issue_ticket(conversation_id, lifetime)
        renewing = asyncio.ensure_future(self._keep_alive(conversation_id, ticket, lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket, min(wait_time_in_seconds, WAIT_INTERVAL))
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            self.cleanup(conversation_id, ticket)

    async def _keep_alive(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                if not self.renew(conversation_id, ticket, lifetime):
                    log.warning("lock ticket %d expired before it was renewed (event loop blocked?)", ticket)
                    return
            except Exception as exc:  # Redis briefly unreachable: try again at the next beat
                log.warning("lock ticket not renewed: %s", type(exc).__name__)
