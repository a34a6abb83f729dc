"""Rasa's Redis lock store, made safe for several Rasa servers (issue 14, topology).

Configured in ``endpoints.production.yml`` as
``type: rasa_components.serving.locks.AtomicRedisLockStore`` (same keys as Rasa's
``type: redis``). Rasa 3.6's ``RedisLockStore`` serialises one conversation with a
ticket lock kept in one Redis key, but:

1. **Tickets are not issued atomically.** Issuing reads the key, adds a ticket and writes
   it back, with no transaction: two servers receiving a message of the same chat at the
   same moment can both read "no lock", both write ticket 0, and both process at once
   (two answers computed on the same tracker, events interleaved). Here every change of
   the key is one Lua script, which Redis runs atomically (one round trip).
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
import logging
import os
import time
from collections.abc import AsyncIterator

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

    # -- every change of the lock key is one Redis script --------------------------------------------------------
    #
    # A Lua script runs atomically in Redis: the read, the change and the write of the key are
    # one round trip (a WATCH/MULTI transaction took three, and its retries). The key holds
    # what Rasa's ``TicketLock.dumps`` writes (each ticket a JSON string inside the JSON), so
    # Rasa's own ``get_lock`` still reads it. Times are the Rasa server's clock, as in Rasa.
    _SCRIPT = """
    local op, conversation_id = ARGV[1], ARGV[2]
    local now, lifetime, number = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
    local tickets = {}
    local raw = redis.call('GET', KEYS[1])
    if raw then
      for _, text in ipairs(cjson.decode(raw).tickets or {}) do
        local ticket = cjson.decode(text)
        if ticket.expires >= now then table.insert(tickets, ticket) end  -- Rasa: expired if now > expires
      end
    end
    local result = 0
    if op == 'issue' then
      result = (#tickets > 0 and tickets[#tickets].number or -1) + 1
      table.insert(tickets, {number = result, expires = now + lifetime})
    elseif op == 'renew' or op == 'remove' then
      for index, ticket in ipairs(tickets) do
        if ticket.number == number then
          result = 1
          if op == 'renew' then ticket.expires = now + lifetime else table.remove(tickets, index) end
          break
        end
      end
    end
    if #tickets == 0 then
      redis.call('DEL', KEYS[1])
      return result
    end
    local texts, expires = {}, 0
    for _, ticket in ipairs(tickets) do
      table.insert(texts, cjson.encode({number = ticket.number, expires = ticket.expires}))
      if ticket.expires > expires then expires = ticket.expires end
    end
    local ttl = math.max(1, math.floor((expires - now) * 1000) + 1000)
    redis.call('SET', KEYS[1], cjson.encode({conversation_id = conversation_id, tickets = texts}), 'PX', ttl)
    return result
    """

    def _change(self, conversation_id: str, op: str, lifetime: float = 0, number: int = 0) -> int:
        """Run ``op`` (issue, renew, remove, expire) on the stored lock in one atomic script."""
        script = self.__dict__.get("_script")
        if script is None:
            script = self._script = self.red.register_script(self._SCRIPT)
        return int(script(keys=[self.key_prefix + conversation_id],
                          args=[op, conversation_id, time.time(), float(lifetime), number]))

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 0) -> int:
        lifetime = lock_lifetime or configured_lifetime()
        try:
            return self._change(conversation_id, "issue", lifetime)
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, "expire")  # drops expired tickets

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, "remove", number=ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)  # the key goes with its last ticket

    def renew(self, conversation_id: str, ticket_number: int, lifetime: float) -> bool:
        """Push our ticket's expiry ``lifetime`` seconds ahead; False if it is gone."""
        return bool(self._change(conversation_id, "renew", lifetime, ticket_number))

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
