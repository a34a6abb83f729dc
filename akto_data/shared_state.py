"""State that several bot processes behind one webhook must share, kept in Redis.

With one bot process everything below lives in its memory (``bot.guard``,
``bot.pacing``, ``bot.processor``). Telegram's webhook calls for one chat may land on
two processes, so with ``REDIS_URL`` set these move here, each an atomic Redis step:

- **Flood limits** (:meth:`SharedState.admit`): a sliding window per user, a sorted set
  of the times of their accepted updates, trimmed, counted and added to in one Lua
  script, on Redis's own clock (the processes' clocks may differ); the "slow down"
  message is claimed once per flood with ``SET NX``.
- **Spacing** (:meth:`SharedState.reserve`): the next free slot of a key (one chat's
  pacing, the bot's global budget) is *reserved* atomically and the caller sleeps until
  it, so two processes never take the same slot (a generic cell-rate algorithm; a burst
  allowance lets the global budget send 30 at once, as python-telegram-bot's does).
- **Per-chat order** (:class:`ChatQueue`): each update is added to its chat's sorted set
  (score: Telegram's ``update_id``); whoever holds the chat's lock runs the pending
  updates lowest id first, removing each only once it has run, then releases the lock in
  the same Lua step that sees the set empty (an update added meanwhile is never left
  without a runner). The lock has a bounded life, renewed while the holder works: a
  process that dies frees the chat within :data:`LOCK_TTL`, and every process sweeps
  chats with pending updates and no holder (:meth:`ChatQueue.orphans`), so the dead
  process's updates still run (at least once: one it was running runs again, and the
  stable ``message_id`` sent to Rasa makes Rasa answer it from its first processing).

The core never imports the bot: these are plain Redis operations, the bot decides what
an update is and what to do when Redis is away (:class:`Unavailable`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: How long a chat's lock lives without renewal: a dead holder blocks its chat at most this long.
LOCK_TTL = 30.0
#: Connections to Redis per bot process (each Redis step holds one for a round trip), and how
#: long a step waits for a free one when all are busy before Redis counts as unavailable.
MAX_CONNECTIONS = 64
POOL_WAIT = 10.0
#: After a failure, Redis is not asked again for this long (the bot runs on its own limits).
RETRY_AFTER = 5.0

_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  redis.call('DEL', KEYS[2])
  return 0
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', window + 1000) then return 1 end
return 2
"""

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local delay = tat - tonumber(ARGV[2]) - now
if delay < 0 then delay = 0 end
local after = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now) + 1000)
return string.format('%.3f', delay)
"""

# KEYS: lock; ARGV: token, ttl ms. Extend the lock only if we still hold it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: lock; ARGV: token. Let go of the lock only if we still hold it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: queue, chats, lock; ARGV: payload, update_id, chat, now, token, ttl ms.
# Queue an update and take the chat's lock if nobody holds it (1: taken).
_ADD_AND_LOCK = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[3])
if redis.call('SET', KEYS[3], ARGV[5], 'NX', 'PX', ARGV[6]) then return 1 end
return 0
"""

# KEYS: queue, lock, chats; ARGV: payload just run ('' if none), token, chat.
# Remove what was run; then, if the lock is still ours, the next update, or (none left) let go of
# the chat in the same step, so an update queued meanwhile is never left without a runner.
_NEXT = """
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head > 0 then return head end
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[2])
return 0
"""


class Unavailable(Exception):
    """Redis did not answer (or failed recently): the caller uses its own, per-process state."""


def namespace(telegram_token: str) -> str:
    """Key prefix of one bot: two bots sharing a Redis never mix their chats (the token is hashed:
    it is a secret, and key names show up in monitoring)."""
    return "akto:bot:" + hashlib.sha256(telegram_token.encode()).hexdigest()[:12] + ":"


class SharedState:
    """Redis connection and the atomic steps; failures become :class:`Unavailable`.

    After a failure Redis is left alone for :data:`RETRY_AFTER` seconds, so a Redis that
    is down costs the bot one refused connection per few seconds, not one per update, and
    the warning is logged once per outage.
    """

    def __init__(self, url: str, prefix: str, *, timeout: float = 2.0) -> None:
        self.prefix = prefix
        # A bounded pool that waits for a free connection: redis-py's default pool raises once
        # 100 are in use, which a busy bot (256 updates at once) would take for Redis being down.
        # A connection broken while Redis was away fails once when next used: it is reconnected
        # and the step tried once more, instead of counting Redis as down again.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT, socket_timeout=timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError])
        self.redis = aioredis.Redis(connection_pool=pool)
        self._down_since: float | None = None
        self._admit = self.redis.register_script(_ADMIT)
        self._reserve = self.redis.register_script(_RESERVE)
        self._renew = self.redis.register_script(_RENEW)
        self._add_and_lock = self.redis.register_script(_ADD_AND_LOCK)
        self._next = self.redis.register_script(_NEXT)
        self._release = self.redis.register_script(_RELEASE)

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    # -- availability --------------------------------------------------------------------
    def _check(self) -> None:
        if self._down_since is not None and time.monotonic() - self._down_since < RETRY_AFTER:
            raise Unavailable("Redis failed recently")

    def _failed(self, exc: BaseException) -> Unavailable:
        if self._down_since is None:
            log.warning("Redis unavailable, each bot process uses its own limits and order until it is back: %s",
                        type(exc).__name__)
        self._down_since = time.monotonic()
        return Unavailable(str(exc))

    def _ok(self) -> None:
        # Only a step started after the pause says Redis is back (one in flight when it failed does not).
        if self._down_since is not None and time.monotonic() - self._down_since >= RETRY_AFTER:
            log.warning("Redis is back: limits and order shared between bot processes again")
            self._down_since = None

    async def _call(self, script, keys: list[str], args: list[object]):  # type: ignore[no-untyped-def]
        self._check()
        try:
            result = await script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        self._ok()
        return result

    # -- flood limits -------------------------------------------------------------------
    async def admit(self, kind: str, user_key: str, max_events: int, window: float) -> str:
        """``"accept"``, ``"warn"`` (first refusal of this flood) or ``"drop"``, for all processes at once."""
        code = await self._call(self._admit, [self.key("flood", kind, user_key), self.key("warned", kind, user_key)],
                                [max_events, int(window * 1000), secrets.token_hex(4)])
        return ("accept", "warn", "drop")[int(code)]

    # -- spacing ------------------------------------------------------------------------
    async def reserve(self, name: str, interval: float, burst: float = 0.0) -> float:
        """Reserve the next slot of ``name`` (slots ``interval`` s apart, ``burst`` s may be taken
        ahead); seconds to wait before using it."""
        delay = await self._call(self._reserve, [self.key("slot", name)], [interval * 1000, burst * 1000])
        return float(delay) / 1000

    # -- per-chat order -----------------------------------------------------------------
    def chat_queue(self, chat: str | int) -> ChatQueue:
        return ChatQueue(self, str(chat))

    async def orphans(self, limit: int = 100) -> list[str]:
        """Chats with pending updates (some may have a live holder: :meth:`ChatQueue.lock` decides)."""
        self._check()
        try:
            chats = await self.redis.zrange(self.key("chats"), 0, limit - 1)
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        self._ok()
        return [c.decode() if isinstance(c, bytes) else str(c) for c in chats]

    async def aclose(self) -> None:
        await self.redis.aclose(close_connection_pool=True)


@dataclass
class ChatQueue:
    """One chat's pending updates and lock (see the module's docstring)."""

    state: SharedState
    chat: str
    token: str | None = None

    @property
    def _queue(self) -> str:
        return self.state.key("queue", self.chat)

    @property
    def _lock(self) -> str:
        return self.state.key("lock", self.chat)

    async def _do(self, step):  # type: ignore[no-untyped-def]
        """Run ``step()`` (a Redis call), made only once Redis is not known to be down."""
        self.state._check()
        try:
            result = await step()
        except (RedisError, OSError) as exc:
            raise self.state._failed(exc) from exc
        self.state._ok()
        return result

    async def add(self, update_id: int, payload: str) -> None:
        """Queue an update (``payload``: the update as JSON, any process can run it)."""
        pipe = self.state.redis.pipeline(transaction=True)
        pipe.zadd(self._queue, {payload: update_id})
        pipe.zadd(self.state.key("chats"), {self.chat: time.time()}, nx=True)
        await self._do(pipe.execute)

    async def lock(self, ttl: float = LOCK_TTL) -> bool:
        """Take the chat's lock if nobody holds it."""
        token = secrets.token_hex(8)
        if await self._do(lambda: self.state.redis.set(self._lock, token, nx=True, px=int(ttl * 1000))):
            self.token = token
            return True
        return False

    async def renew(self, ttl: float = LOCK_TTL) -> bool:
        """Extend the lock; False if it was lost (expired and maybe taken by another process)."""
        return bool(await self.state._call(self.state._renew, [self._lock], [self.token or "", int(ttl * 1000)]))

    async def release(self) -> None:
        """Let go of the chat at once (this process stops): another takes it at its next sweep."""
        await self.state._call(self.state._release, [self._lock], [self.token or ""])

    async def add_and_lock(self, update_id: int, payload: str, ttl: float = LOCK_TTL) -> bool:
        """:meth:`add` then :meth:`lock`, in one step (one round trip per update)."""
        token = secrets.token_hex(8)
        taken = await self.state._call(
            self.state._add_and_lock, [self._queue, self.state.key("chats"), self._lock],
            [payload, update_id, self.chat, time.time(), token, int(ttl * 1000)])
        if taken:
            self.token = token
        return bool(taken)

    async def next(self, done: str | None = None) -> tuple[int, str] | None:
        """Remove ``done`` (the update just run) and give the next one, lowest ``update_id`` first,
        left in the queue until it has run; ``None`` when there is none (the chat is let go of in
        the same step) or when the lock is no longer ours (the new holder goes on)."""
        step = await self.state._call(self.state._next, [self._queue, self._lock, self.state.key("chats")],
                                      [done or "", self.token or "", self.chat])
        if not isinstance(step, list):
            return None
        payload, score = step
        return int(float(score)), payload.decode() if isinstance(payload, bytes) else payload
