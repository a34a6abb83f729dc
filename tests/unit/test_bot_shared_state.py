"""Two bot processes behind one webhook share the flood limits, the per-chat order and the
pacing through Redis (issue 14, section 3). Each test plays the two processes with two
update processors, each on its own Redis connection, against the machine's Redis
(``TEST_REDIS_URL``, default db 4); a key prefix of its own keeps tests apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from telegram import CallbackQuery, Chat, Message, Update, User

from akto_data import shared_state
from akto_data.shared_state import SharedState, namespace
from bot.guard import FloodLimiter
from bot.pacing import ChatPacer, SharedRateLimiter
from bot.processor import PerChatUpdateProcessor

NOW = datetime.now(UTC).replace(microsecond=0)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def _redis_unreachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis not reachable at {REDIS_URL} (set TEST_REDIS_URL to run these tests): {exc}"
    return None


@pytest_asyncio.fixture
async def states() -> AsyncIterator[tuple[SharedState, SharedState]]:
    """Two processes' connections to the same bot's shared state."""
    reason = _redis_unreachable()
    if reason:
        pytest.skip(reason)
    prefix = namespace(secrets.token_hex(8))
    first, second = SharedState(REDIS_URL, prefix), SharedState(REDIS_URL, prefix)
    yield first, second
    keys = [key async for key in first.redis.scan_iter(match=prefix + "*")]
    if keys:
        await first.redis.delete(*keys)
    await first.aclose()
    await second.aclose()


def _update(update_id: int, chat_id: int = 1, user_id: int = 7) -> Update:
    message = Message(update_id, NOW, Chat(chat_id, "private"), from_user=User(user_id, "Léa", False), text="x")
    return Update(update_id, message=message)


def _press(update_id: int, chat_id: int = 1, user_id: int = 7) -> Update:
    user = User(user_id, "Léa", False)
    message = Message(update_id, NOW, Chat(chat_id, "private"), text="Choisis :")
    return Update(update_id, callback_query=CallbackQuery(str(update_id), user, "ci", message=message, data="b"))


class Process:
    """One bot process: its update processor; every update it runs is logged in ``log``."""

    def __init__(self, state: SharedState, log: list[tuple[str, int]], *, messages: int = 12, presses: int = 30,
                 delays: dict[int, float] | None = None) -> None:
        self.log = log
        self.delays = delays or {}
        self.warned: list[int] = []
        self.processor = PerChatUpdateProcessor(16, FloodLimiter(messages, 30), self.on_flood,
                                                presses=FloodLimiter(presses, 30), shared=state,
                                                run_update=self.run_queued)

    async def on_flood(self, update: Update) -> None:
        self.warned.append(update.update_id)

    async def work(self, update_id: int) -> None:
        self.log.append(("start", update_id))
        await asyncio.sleep(self.delays.get(update_id, 0.0))
        self.log.append(("end", update_id))

    async def run_queued(self, data: dict) -> None:
        """What the front does with an update another process received: run it from its JSON."""
        await self.work(Update.de_json(data, None).update_id)

    async def receive(self, update: Update) -> None:
        await self.processor.process_update(update, self.work(update.update_id))


def _runs(log: list[tuple[str, int]]) -> list[int]:
    """Update ids in the order they started, after checking no two ran at once."""
    for i in range(0, len(log), 2):
        assert log[i][0] == "start" and log[i + 1] == ("end", log[i][1]), f"overlapping runs: {log}"
    return [update_id for event, update_id in log if event == "start"]


async def test_flood_limit_is_counted_across_both_processes(states):
    log: list[tuple[str, int]] = []
    a, b = Process(states[0], log), Process(states[1], log)
    for update_id in range(1, 15):  # the webhook's calls alternate between the two processes
        await (a if update_id % 2 else b).receive(_update(update_id))
    assert sorted(_runs(log)) == list(range(1, 13))  # 12 per window in all, not 12 each
    assert a.warned + b.warned == [13]  # the 13th is refused once, by whichever process got it; 14th dropped
    # Presses have their own limit, shared too; another user is not affected.
    await b.receive(_press(20))
    await a.receive(_update(21, chat_id=2, user_id=8))
    assert _runs(log)[-2:] == [20, 21]


async def test_presses_count_in_their_own_shared_limit(states):
    log: list[tuple[str, int]] = []
    a, b = Process(states[0], log, messages=3, presses=5), Process(states[1], log, messages=3, presses=5)
    for update_id in range(1, 9):
        await (a if update_id % 2 else b).receive(_press(update_id))
    assert sorted(_runs(log)) == [1, 2, 3, 4, 5] and a.warned + b.warned == [6]


async def test_one_chat_runs_one_update_at_a_time_in_update_order_whichever_process_received_it(states):
    log: list[tuple[str, int]] = []
    delays = {1: 0.3, 2: 0.05, 3: 0.0, 4: 0.1, 5: 0.0}
    a, b = Process(states[0], log, delays=delays), Process(states[1], log, delays=delays)
    first = asyncio.create_task(a.receive(_update(1)))
    await asyncio.sleep(0.05)  # update 1 runs in process A
    # The others arrive meanwhile, out of order and spread over both processes.
    arrivals = [asyncio.create_task(proc.receive(_update(uid))) for proc, uid in ((b, 5), (a, 3), (b, 4), (a, 2))]
    # Another chat is not held up by the busy one.
    await b.receive(_update(50, chat_id=2, user_id=8))
    assert ("end", 50) in log and ("end", 1) not in log
    await asyncio.gather(first, *arrivals)
    chat_one = [entry for entry in log if entry[1] != 50]
    assert _runs(chat_one) == [1, 2, 3, 4, 5]  # each once, by update_id, never two at once


async def test_a_burst_spread_over_both_processes_runs_each_update_once_one_at_a_time(states):
    log: list[tuple[str, int]] = []
    a, b = Process(states[0], log, messages=100), Process(states[1], log, messages=100)
    # All at once: which arrives first is not defined (Telegram sends a chat's updates one after
    # the other; the test above checks their order), but none is lost, doubled or run alongside another.
    await asyncio.gather(*[(a if uid % 2 else b).receive(_update(uid)) for uid in range(1, 41)])
    assert sorted(_runs(log)) == list(range(1, 41))


async def test_a_dead_process_frees_its_chat_and_its_updates_still_run(states):
    log: list[tuple[str, int]] = []
    b = Process(states[1], log)
    # Process A queued update 1 of the chat, took the chat's lock (short life here) and died.
    queue = states[0].chat_queue(1)
    await queue.add(1, _update(1).to_json())
    assert await queue.lock(ttl=0.5)
    await b.receive(_update(2))  # queued behind the dead holder: nothing runs yet
    assert log == []
    assert await b.processor.sweep() == 0  # the lock is still alive: not taken from a live holder
    await asyncio.sleep(0.6)
    assert await b.processor.sweep() == 1  # B's sweeper finds the orphaned chat
    assert _runs(log) == [1, 2]
    assert await b.processor.sweep() == 0  # nothing left pending


async def test_redis_down_falls_back_to_each_processs_own_limits_and_order(caplog):
    down = SharedState("redis://127.0.0.1:1/0", namespace("down"), timeout=0.5)  # nothing listens there
    log: list[tuple[str, int]] = []
    proc = Process(down, log, messages=3, delays={1: 0.1})
    with caplog.at_level(logging.WARNING, logger="akto_data.shared_state"):
        await asyncio.gather(*[proc.receive(_update(uid)) for uid in range(1, 6)])
    assert _runs(log) == [1, 2, 3] and proc.warned == [4]  # nothing lost silently, in order, limited
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per update
    await down.aclose()


async def test_an_update_whose_turn_never_comes_because_redis_failed_still_runs(states, monkeypatch):
    log: list[tuple[str, int]] = []
    a = Process(states[0], log)

    async def failing_next(self, done=None):
        raise states[0]._failed(ConnectionError("Redis went away"))

    monkeypatch.setattr(shared_state.ChatQueue, "next", failing_next)
    await a.receive(_update(1))
    assert _runs(log) == [1]  # queued in Redis, then run here: never dropped


async def test_pacing_of_one_chat_holds_across_processes(states):
    pacers = [ChatPacer(0.2, shared=states[0]), ChatPacer(0.2, shared=states[1])]
    sent = []
    for i in range(5):
        await pacers[i % 2].wait(1)  # the answer from one process, the CFA's message from the other...
        sent.append(time.monotonic())
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:])]
    assert min(gaps) >= 0.18, gaps  # each process alone would have let every other message go at once
    started = time.monotonic()
    await pacers[1].wait(2)  # another chat has its own pace
    assert time.monotonic() - started < 0.1


async def test_telegrams_global_budget_is_shared_by_the_processes(states):
    rate = 20  # messages a second, for the whole bot
    limiters = [SharedRateLimiter(states[0], overall_max_rate=rate),
                SharedRateLimiter(states[1], overall_max_rate=rate)]
    done: list[float] = []

    async def call() -> bool:
        done.append(time.monotonic())
        return True

    await asyncio.gather(*[limiters[i % 2].process_request(call, (), {}, "sendMessage", {"chat_id": 1000 + i}, None)
                           for i in range(2 * rate)])
    done.sort()
    # A second's worth goes at once (as python-telegram-bot's own limiter allows), then one every
    # 1/rate s for both processes together: the second 20 take about a second. Each process on its
    # own budget would have sent its 20 at once.
    assert done[-1] - done[rate] >= 0.8 * (rate - 1) / rate, [round(t - done[0], 3) for t in done]


async def test_every_bot_process_sets_the_same_webhook_secret():
    """Each process sets the webhook when it starts; a secret of its own would lock the others out
    (Telegram sends the last one set, the others answer 403)."""
    from akto_data.settings import Settings
    from bot.telegram_front import TelegramFront

    def options(**values: object) -> dict:
        front = TelegramFront(Settings(telegram_token="123:abc", webhook_url="https://bot.example/telegram",
                                       **values))  # type: ignore[arg-type]
        return front.webhook_options()

    shared = [options(redis_url=REDIS_URL)["secret_token"] for _ in range(2)]
    assert shared[0] == shared[1] and "abc" not in shared[0]
    assert options(redis_url=REDIS_URL, webhook_secret="chosen")["secret_token"] == "chosen"
    alone = [options()["secret_token"] for _ in range(2)]
    assert alone[0] != alone[1]  # one process: a new random secret per start, as before


async def test_a_process_stopping_mid_update_hands_the_chat_over_at_once(states):
    log: list[tuple[str, int]] = []
    a = Process(states[0], log, delays={1: 5.0})
    b = Process(states[1], log)
    stopping = asyncio.create_task(a.receive(_update(1)))
    await asyncio.sleep(0.2)
    await b.receive(_update(2))  # queued behind A's update
    stopping.cancel()  # A shuts down in the middle of update 1
    with contextlib.suppress(asyncio.CancelledError):
        await stopping
    b.delays[1] = 0.0
    assert await b.processor.sweep() == 1  # not after the lock's 30 s: A let go of the chat
    assert log == [("start", 1), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]  # 1 again (at least once)
