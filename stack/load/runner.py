"""The load client: C chats in one asyncio process, closed loop, as the bot calls Rasa.

One process, one ``httpx.AsyncClient`` (keep-alive connections), no threads: the load
generator shares the two cores with the servers it measures, so it must stay light
(its own CPU per message is printed with the rest).

Each chat plays the scripts one after the other, a new sender (a new Telegram chat
id) for every conversation. Each message is posted as :mod:`bot.rasa_client` posts it:
``{"sender", "message", "metadata", "message_id"}`` with the Telegram metadata of
:meth:`bot.telegram_front.TelegramFront.metadata`. On a refused connection, a timeout
or a 5xx the same message is sent again with the same ``message_id`` after each of
:data:`RETRY_DELAYS`, as the bot does; a reply without its expected marker is an error
and ends that conversation (the dialogue is no longer where the script thinks).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from stack.load.check import Sent, Tally, compare
from stack.load.procs import cpu_seconds, own_cpu_seconds, rss_mb
from stack.load.script import SCRIPTS, Script, Step
from stack.load.stats import percentile

#: Waits before each new attempt of a message that got no answer (bounded: 5 retries, 15.5 s).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
READ_TIMEOUT = 60.0
#: Telegram chat ids of the load's chats: one fresh id per conversation, never a real user's.
_chat_ids = itertools.count(int(time.time() * 1000) * 1000)


@dataclass
class Target:
    """Where the load goes: a Rasa REST channel, its tracker API and the processes to watch."""

    name: str
    url: str
    token: str | None = None
    #: label ("rasa", "actions", "bot") -> the pids of that kind, read again at each use
    #: (a fault run restarts processes).
    processes: Callable[[], dict[str, list[int]]] = dict

    @property
    def webhook(self) -> str:
        return f"{self.url.rstrip('/')}/webhooks/rest/webhook"


@dataclass
class Outcome:
    step: str
    phase: str
    latency_ms: float | None  # None: an error
    error: str | None = None
    retries: int = 0
    retried_for: str | None = None  # why the last retry was needed (connection error, HTTP 503…)


@dataclass
class LevelResult:
    target: str
    concurrency: int
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    sent: dict[str, list[Sent]] = field(default_factory=dict)
    conversations: int = 0
    completed: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # label -> CPU ms over the level
    rss_mb: float = 0.0
    tally: Tally = field(default_factory=Tally)

    @property
    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.latency_ms is not None]

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.latency_ms is None]

    @property
    def rate(self) -> float:
        return len(self.answered) / self.seconds if self.seconds else 0.0

    def latency(self, p: float, phase: str | None = None) -> float:
        return percentile([o.latency_ms for o in self.answered if o.latency_ms is not None
                           and (phase is None or o.phase == phase)], p)

    @property
    def retries(self) -> int:
        return sum(o.retries for o in self.outcomes)

    def cpu_per_message(self, label: str) -> float:
        answered = len(self.answered)
        return self.cpu_ms.get(label, 0.0) / answered if answered else float("nan")

    def slowest_steps(self, count: int = 3) -> list[tuple[str, float, int]]:
        """(step, p95 ms, messages) of the steps with the highest p95."""
        by_step: dict[str, list[float]] = defaultdict(list)
        for outcome in self.answered:
            if outcome.latency_ms is not None:
                by_step[outcome.step].append(outcome.latency_ms)
        ranked = sorted(((step, percentile(v, 95), len(v)) for step, v in by_step.items()), key=lambda x: -x[1])
        return ranked[:count]


def metadata(chat_id: int) -> dict[str, Any]:
    """What :meth:`bot.telegram_front.TelegramFront.metadata` sends for a private chat."""
    return {"channel": "telegram", "chat_id": chat_id, "language": "fr", "first_name": "Léa", "username": "lea972"}


async def post(client: httpx.AsyncClient, target: Target, sender: str, chat_id: int, message: str,
               message_id: str) -> tuple[list[dict[str, Any]] | None, int, str | None]:
    """(replies or None, retries made, error) for one message, retried as the bot retries.

    After a success the error is why the last retry was needed (None without retries).
    """
    body = {"sender": sender, "message": message, "metadata": metadata(chat_id), "message_id": message_id}
    error = None
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
        if delay:
            await asyncio.sleep(delay)
        try:
            response = await client.post(target.webhook, json=body)
        except httpx.TransportError as exc:  # refused, reset, timed out: retried
            error = type(exc).__name__
            continue
        if response.status_code >= 500:
            error = f"HTTP {response.status_code}"
            continue
        if response.status_code != 200:
            return None, attempt, f"HTTP {response.status_code}"
        try:
            replies = response.json()
        except ValueError:
            return None, attempt, "not JSON"
        if not isinstance(replies, list):
            return None, attempt, "not a list"
        return replies, attempt, error
    return None, len(RETRY_DELAYS), f"{error} after {len(RETRY_DELAYS)} retries"


class Load:
    """One level of load on one target: ``concurrency`` chats until the time or the conversations run out."""

    def __init__(self, target: Target, concurrency: int, *, seconds: float | None = None,
                 conversations: int | None = None, scripts: Sequence[Script] = SCRIPTS,
                 phase: Callable[[], str] = lambda: "", until: Callable[[], bool] | None = None) -> None:
        if seconds is None and conversations is None and until is None:
            raise ValueError("seconds, conversations or until")
        self.target = target
        self.concurrency = concurrency
        self.seconds = seconds
        self.conversations = conversations
        self.scripts = scripts
        self.phase = phase
        self.until = until  # no new conversation once it says True (the fault run's end)
        self.result = LevelResult(target.name, concurrency, 0.0)
        self._started = 0
        self._deadline = 0.0

    def _more(self) -> bool:
        if self.seconds is not None and time.monotonic() >= self._deadline:
            return False
        if self.until is not None and self.until():
            return False
        return self.conversations is None or self._started < self.conversations

    async def _chat(self, client: httpx.AsyncClient, index: int) -> None:
        turn = 0
        while self._more():
            self._started += 1
            script = self.scripts[(index + turn) % len(self.scripts)]
            turn += 1
            if await self.converse(client, script):
                self.result.completed += 1

    async def converse(self, client: httpx.AsyncClient, script: Script) -> bool:
        """Play ``script`` with a new sender; False at its first error or when time runs out."""
        chat_id = next(_chat_ids)
        sender = str(chat_id)
        sent: list[Sent] = []
        self.result.sent[sender] = sent
        self.result.conversations += 1
        offered: set[str] = set()
        for seq, step in enumerate(script.steps):
            if seq and self.seconds is not None and time.monotonic() >= self._deadline:
                return False
            if step.message.startswith("/") and step.message not in offered:
                # The bot sends a payload only for a button it showed (a typed "/..." is filtered).
                self.result.outcomes.append(Outcome(step.name, self.phase(), None, "button not offered"))
                return False
            replies = await self._step(client, sender, chat_id, seq, step, sent)
            if replies is None:
                return False
            offered = {b.get("payload") or "" for r in replies for b in r.get("buttons") or []}
        return True

    async def _step(self, client: httpx.AsyncClient, sender: str, chat_id: int, seq: int, step: Step,
                    sent: list[Sent]) -> list[dict[str, Any]] | None:
        """The replies to one step, or None after recording its error."""
        message_id = f"{sender}:{seq}"
        began = time.perf_counter()
        replies, retries, error = await post(client, self.target, sender, chat_id, step.message, message_id)
        elapsed = (time.perf_counter() - began) * 1000
        # The phase the answer (or the failure) came in: a message in flight when a server is
        # killed belongs to that fault, not to the calm before it.
        phase = self.phase()
        sent.append(Sent(message_id, step.message, None if replies is None else len(replies)))
        if replies is None:
            self.result.outcomes.append(Outcome(step.name, phase, None, error, retries))
            return None
        if not step.answered(replies):
            wrong = "unexpected answer: " + " / ".join((r.get("text") or "")[:60] for r in replies)[:200]
            self.result.outcomes.append(Outcome(step.name, phase, None, wrong, retries, error))
            return None
        self.result.outcomes.append(Outcome(step.name, phase, elapsed, None, retries, error))
        return replies

    async def run(self) -> LevelResult:
        limits = httpx.Limits(max_connections=self.concurrency + 4, max_keepalive_connections=self.concurrency + 4)
        timeout = httpx.Timeout(READ_TIMEOUT, connect=3.0)
        cpu_before = self._cpu()
        own_before = own_cpu_seconds()
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            began = time.monotonic()
            self._deadline = began + (self.seconds or 0.0)
            await asyncio.gather(*(self._chat(client, i) for i in range(self.concurrency)))
            self.result.seconds = time.monotonic() - began
        cpu_after = self._cpu()
        self.result.cpu_ms = {label: (cpu_after.get(label, 0.0) - cpu_before.get(label, 0.0)) * 1000
                              for label in cpu_after}
        self.result.cpu_ms["load client"] = (own_cpu_seconds() - own_before) * 1000
        self.result.rss_mb = rss_mb([pid for pids in self.target.processes().values() for pid in pids])
        return self.result

    def _cpu(self) -> dict[str, float]:
        return {label: sum(cpu_seconds(pid) for pid in pids) for label, pids in self.target.processes().items()}


async def check_trackers(target: Target, sent: dict[str, list[Sent]], parallel: int = 4) -> Tally:
    """Read every chat's tracker back and compare it with what was sent (see :mod:`stack.load.check`)."""
    tally = Tally()
    params = {"token": target.token} if target.token else {}
    gate = asyncio.Semaphore(parallel)

    async def one(client: httpx.AsyncClient, sender: str, messages: list[Sent]) -> None:
        async with gate:
            try:
                response = await client.get(f"{target.url.rstrip('/')}/conversations/{sender}/tracker", params=params)
                response.raise_for_status()
                events = response.json().get("events") or []
            except (httpx.HTTPError, ValueError):
                tally.unreadable += 1
                return
        tally.add(compare(messages, events))

    async with httpx.AsyncClient(timeout=60.0) as client:
        await asyncio.gather(*(one(client, sender, messages) for sender, messages in sent.items() if messages))
    return tally


async def run_level(target: Target, concurrency: int, *, seconds: float | None = None,
                    conversations: int | None = None, scripts: Sequence[Script] = SCRIPTS,
                    phase: Callable[[], str] = lambda: "") -> LevelResult:
    """One level, then the tracker check of every conversation it played."""
    result = await Load(target, concurrency, seconds=seconds, conversations=conversations, scripts=scripts,
                        phase=phase).run()
    result.tally = await check_trackers(target, result.sent)
    return result
