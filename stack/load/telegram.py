"""``make load ARGS=--telegram``: a smaller load through the bot and the Telegram emulator.

The same scripts as the REST load, played by emulated Telegram users
(``telegram-test-api``, tests/emulator) talking to the product's bot
(:mod:`stack.load.telegram_bot`), which calls the same embedded stack. Printed beside the
REST figures of the same stack and concurrency: the bot's added latency (first reply
after the update, minus Rasa's REST time) and the bot process's CPU per message.

The bot paces each chat (``CHAT_MIN_INTERVAL``, 1.0 s by default, as Telegram asks):
a reply of three messages takes two seconds to arrive whatever Rasa does, so the time
to the first reply is the figure that measures the bot, and the load waits for the
whole answer (paced) before the next message. The flood limit (``FLOOD_MAX_MESSAGES``
in ``FLOOD_WINDOW``) is raised for the run unless set: a script types faster than a
person, and a throttled chat would measure the limiter, not the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from akto_data.settings import PROJECT_ROOT, load_settings
from stack.load.procs import cpu_seconds, own_cpu_seconds
from stack.load.report import say
from stack.load.runner import LevelResult, Outcome, Target, run_level
from stack.load.script import SCRIPTS, Script
from stack.load.stats import ms, percentile
from stack.services import APP_PYTHON, StartupError, service_env

EMULATOR_DIR = PROJECT_ROOT / "tests" / "emulator"
TELEGRAM_LEVELS = (1, 4)
IDLE_SECONDS = 3.0


def start_emulator(folder: Path) -> tuple[subprocess.Popen[str], str]:
    from stack.load.deployments import free_port

    if not (EMULATOR_DIR / "node_modules" / "telegram-test-api").exists():
        raise StartupError("l'émulateur Telegram n'est pas installé : make .stamps/emulator")
    port = free_port()
    process = subprocess.Popen(["node", "server.js", str(port)], cwd=EMULATOR_DIR, stdout=subprocess.PIPE,
                               stderr=(folder / "emulator.log").open("w"), text=True, start_new_session=True)
    line = process.stdout.readline() if process.stdout else ""
    if "EMULATOR_READY" not in line:
        raise StartupError(f"l'émulateur Telegram n'a pas démarré : {line!r}")
    return process, f"http://127.0.0.1:{port}"


def start_bot(target: Target, emulator: str, token: str, folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env = service_env(load_settings())
    env.pop("REDIS_URL", None)  # one bot process: its own in-memory pacing and order
    env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE_URL=f"{emulator}/bot", RASA_URL=target.url,
               RASA_AUTH_TOKEN=target.token or "")
    env.setdefault("FLOOD_MAX_MESSAGES", "1000")
    env.setdefault("FLOOD_MAX_PRESSES", "1000")
    log = folder / "bot.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(APP_PYTHON), "-m", "stack.load.telegram_bot"], cwd=PROJECT_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    deadline = time.monotonic() + 60
    while "BOT_READY" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise StartupError(f"le bot n'a pas démarré, journal {log}:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.3)
    shown = {k: env.get(k, "défaut") for k in ("CHAT_MIN_INTERVAL", "FLOOD_MAX_MESSAGES", "FLOOD_WINDOW",
                                                 "FLOOD_MAX_PRESSES")}
    return process, shown


def button_payload(button_id: str) -> str | None:
    """What a keyboard's button stands for, read from the bot's registry (the user sees titles only)."""
    from akto_data.db import session_scope
    from akto_data.models import ButtonPayload

    with session_scope() as session:
        row = session.get(ButtonPayload, button_id)
        return row.payload if row is not None else None


class TelegramUser:
    """One emulated Telegram user playing a script; records the time to the first reply and to the answer."""

    _ids = iter(range(int(time.time()) * 1000, 2**52))

    def __init__(self, http: httpx.AsyncClient, api: str, token: str, settle: float) -> None:
        self.http, self.api, self.token, self.settle = http, api, token, settle
        self.user_id = next(self._ids)

    def _common(self) -> dict[str, Any]:
        return {"botToken": self.token,
                "from": {"id": self.user_id, "is_bot": False, "first_name": "Léa", "language_code": "fr",
                         "username": "lea972"},
                "chat": {"id": self.user_id, "type": "private", "first_name": "Léa"}, "date": int(time.time())}

    async def _fetch(self) -> list[dict[str, Any]]:
        response = await self.http.post(f"{self.api}/getUpdates", json={"token": self.token, "chatId": self.user_id})
        response.raise_for_status()
        replies = []
        for item in response.json().get("result", []):
            message = item["message"]
            markup = message.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons = [{"title": b["text"], "id": b["callback_data"]} for row in markup.get("inline_keyboard", [])
                       for b in row]
            replies.append({"text": message.get("text", ""), "buttons": buttons, "message_id": item["messageId"]})
        return replies

    async def _send(self, message: str, keyboard: list[dict[str, Any]]) -> None:
        if message.startswith("/"):
            button = next(b for b in keyboard if b.get("payload") == message)
            last = keyboard[-1]
            common = self._common()
            body = {"botToken": self.token, "from": common["from"], "data": button["id"],
                    "message": {"message_id": last["message_id"], "chat": common["chat"], "date": common["date"],
                                "text": "", "from": {"id": 666, "is_bot": True, "first_name": "Bot"}}}
            response = await self.http.post(f"{self.api}/sendCallback", json=body)
        else:
            response = await self.http.post(f"{self.api}/sendMessage", json={**self._common(), "text": message})
        response.raise_for_status()

    async def play(self, script: Script, result: LevelResult, first: list[float], deadline: float) -> None:
        keyboard: list[dict[str, Any]] = []
        for seq, step in enumerate(script.steps):
            if seq and time.monotonic() >= deadline:
                return
            if step.message.startswith("/") and not any(b.get("payload") == step.message for b in keyboard):
                result.outcomes.append(Outcome(step.name, "", None, "button not offered"))
                return
            began = time.perf_counter()
            await self._send(step.message, keyboard)
            replies: list[dict[str, Any]] = []
            answered_at = first_at = None
            quiet_since = time.perf_counter()
            while time.perf_counter() - began < 60:
                new = await self._fetch()
                now = time.perf_counter()
                if new:
                    replies.extend(new)
                    quiet_since = now
                    first_at = first_at or now
                    for reply in new:
                        for button in reply["buttons"]:
                            button["payload"] = await asyncio.to_thread(button_payload, button["id"])
                            button["message_id"] = reply["message_id"]
                    if answered_at is None and step.answered(replies):
                        answered_at = now
                elif answered_at is not None and now - quiet_since >= self.settle:
                    break
                await asyncio.sleep(0.05)
            if answered_at is None or first_at is None:
                error = "no answer" if not replies else "unexpected answer: " + " / ".join(
                    r["text"][:60] for r in replies)[:200]
                result.outcomes.append(Outcome(step.name, "", None, error))
                return
            first.append((first_at - began) * 1000)
            result.outcomes.append(Outcome(step.name, "", (answered_at - began) * 1000))
            keyboard = [b for r in replies for b in r["buttons"]]


async def telegram_level(api: str, token: str, concurrency: int, seconds: float, settle: float,
                         pids: dict[str, list[int]]) -> tuple[LevelResult, list[float]]:
    result = LevelResult("telegram", concurrency, 0.0)
    first: list[float] = []
    # The bot polls the emulator every 50 ms even when nobody writes (Telegram itself would
    # hold a long poll or call a webhook): that idle cost, measured first, is taken off.
    idle_began, idle_cpu = time.monotonic(), sum(cpu_seconds(p) for p in pids.get("bot", []))
    await asyncio.sleep(IDLE_SECONDS)
    idle_rate = (sum(cpu_seconds(p) for p in pids.get("bot", [])) - idle_cpu) / (time.monotonic() - idle_began)
    before = {label: sum(cpu_seconds(p) for p in ps) for label, ps in pids.items()}
    own = own_cpu_seconds()
    async with httpx.AsyncClient(timeout=30.0) as http:
        began = time.monotonic()
        deadline = began + seconds

        async def chat(index: int) -> None:
            turn = 0
            while time.monotonic() < deadline:
                user = TelegramUser(http, api, token, settle)
                await user.play(SCRIPTS[(index + turn) % len(SCRIPTS)], result, first, deadline)
                result.conversations += 1
                turn += 1

        await asyncio.gather(*(chat(i) for i in range(concurrency)))
        result.seconds = time.monotonic() - began
    result.cpu_ms = {label: (sum(cpu_seconds(p) for p in ps) - before[label]) * 1000 for label, ps in pids.items()}
    result.cpu_ms["load client"] = (own_cpu_seconds() - own) * 1000
    if "bot" in result.cpu_ms:
        result.cpu_ms["bot idle"] = idle_rate * result.seconds * 1000
        result.cpu_ms["bot"] = max(0.0, result.cpu_ms["bot"] - result.cpu_ms["bot idle"])
    return result, first


def telegram_run(args: argparse.Namespace) -> int:
    from stack.load.__main__ import validate
    from stack.load.deployments import ours_embedded
    from stack.model import ensure_model

    model = ensure_model()
    chosen: Sequence[int] = args.levels if args.levels != [1, 4, 16, 64] else TELEGRAM_LEVELS
    chosen = sorted({1, *chosen})  # one chat: the REST reference of the bot's added latency
    token = f"{secrets.randbelow(10**9)}:load-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="load-telegram-") as tmp:
        folder = Path(tmp)
        emulator, api = start_emulator(folder)
        bot: subprocess.Popen[bytes] | None = None
        try:
            with ours_embedded(model) as target:
                if not asyncio.run(validate(target)):
                    return 1
                bot, shown = start_bot(target, api, token, folder)
                interval = float(os.environ.get("CHAT_MIN_INTERVAL") or load_settings().chat_min_interval)
                say(f"make load --telegram : {list(chosen)} conversations, {args.seconds:.0f} s par niveau ; "
                    f"réglages du bot : " + ", ".join(f"{k}={v}" for k, v in shown.items()))
                rows = []
                for concurrency in chosen:
                    rest = asyncio.run(run_level(target, concurrency, seconds=args.seconds))
                    pids = {**target.processes(), "bot": [bot.pid]}
                    tg, first = asyncio.run(telegram_level(api, token, concurrency, args.seconds, interval + 0.4,
                                                           pids))
                    rows.append((concurrency, rest, tg, first))
                    say(f"  {concurrency} chats: REST p50 {rest.latency(50):.0f} ms, Telegram first reply p50 "
                        f"{percentile(first, 50):.0f} ms, {len(tg.errors)} errors")
                telegram_table(rows)
        finally:
            if bot is not None:
                bot.terminate()
                with suppress(subprocess.TimeoutExpired):
                    bot.wait(15)
            emulator.terminate()
            with suppress(subprocess.TimeoutExpired):
                emulator.wait(10)
    return 0


def telegram_table(rows: list[tuple[int, LevelResult, LevelResult, list[float]]]) -> None:
    """One row per concurrency. The bot's added latency is taken against REST at one chat: the
    Telegram chats wait for their paced answers, so they load Rasa far less than as many
    closed-loop REST chats do, and REST at the same concurrency would flatter the bot."""
    say("\n== Telegram (bot + emulator) vs REST, same stack ==")
    say("chats | REST msg/s  p50  p95 | TG msg/s first p50 first p95 answer p50 | bot adds p50 | "
        "CPU ms/msg: bot (idle) rasa | errors")
    light = rows[0][1].latency(50) if rows and rows[0][0] == 1 else math.nan
    for concurrency, rest, tg, first in rows:
        added = percentile(first, 50) - light
        say(f"{concurrency:5d} | {rest.rate:10.1f} {ms(rest.latency(50)):>4} {ms(rest.latency(95)):>4} | "
            f"{tg.rate:8.1f} {ms(percentile(first, 50)):>9} {ms(percentile(first, 95)):>9} "
            f"{ms(tg.latency(50)):>10} | {ms(added):>12} | {tg.cpu_per_message('bot'):14.1f} "
            f"({tg.cpu_per_message('bot idle'):.1f}) {tg.cpu_per_message('rasa'):4.1f} | {len(tg.errors)}")
        for outcome in tg.errors[:3]:
            say(f"      error at {outcome.step}: {outcome.error}")
    say("first = from the update sent to the emulator to the bot's first message; answer = to the message "
        "holding the step's marker (paced by CHAT_MIN_INTERVAL); TG msg/s is low by design: each chat waits "
        "for its whole paced answer. Bot adds = first p50 - REST p50 at 1 chat (the Telegram chats load Rasa "
        "lightly). Bot CPU: its polling of the emulator when idle (in brackets) taken off.")
