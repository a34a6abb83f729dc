"""Two bot processes behind one webhook share the flood limit, the per-chat order and the pacing
through Redis (issue 14, section 3).

The real thing: two ``python -m tests.e2e.test_two_bots`` processes, each the product's
:class:`~bot.telegram_front.TelegramFront` serving its webhook (``run_webhook``, secret
checked) with ``REDIS_URL`` set, the session's Rasa stack, and the ``telegram-test-api``
emulator, which supports webhooks (``setWebhook``: it POSTs each update of the bot's token
to the URL and waits for the answer). In between, a round-robin balancer (:class:`Balancer`,
in the test's event loop) spreads the emulator's calls over both processes; like
:class:`~tests.e2e.emulator.EmulatorBridge` on the other side, it bridges the emulator's
gaps in test code only: the emulator sends no ``X-Telegram-Bot-Api-Secret-Token`` header
(the balancer adds it, as Telegram would), dates in milliseconds, and ``update_id`` values that
repeat (it numbers an update before the previous one's webhook call is over; the balancer
numbers them in the order they come, unique and increasing as Telegram's). The test sends
each update once the balancer has passed the previous one on, as Telegram delivers a chat's
updates one after the other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import pytest_asyncio

from akto_data.i18n import text as t
from akto_data.settings import PROJECT_ROOT
from akto_data.shared_state import namespace
from bot.telegram_front import READY_MARKER, WEBHOOK_PATH
from tests.e2e.emulator import BotMessage, EmulatedUser, new_user_id

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
#: Seconds between two messages to one chat (CHAT_MIN_INTERVAL), short for the test.
PACE = 0.3


def _seconds(value: Any) -> Any:
    """The emulator's dates are in milliseconds; Telegram's in seconds."""
    if isinstance(value, dict):
        return {k: (v // 1000 if k == "date" and isinstance(v, int) and v > 10**11 else _seconds(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_seconds(v) for v in value]
    return value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Balancer:
    """Round-robin HTTP balancer for the webhook: each call of the emulator goes to the next bot."""

    def __init__(self, targets: list[int], secret: str) -> None:
        self.targets = targets
        self.secret = secret
        self.port = _free_port()
        self.calls = [0] * len(targets)
        self.forwarded = 0
        self._next = 0
        self._update_ids = itertools.count(1)
        self._server = None
        self._http = httpx.AsyncClient(timeout=10)

    async def forward(self, body: bytes) -> int:
        index = self._next
        self._next = (self._next + 1) % len(self.targets)
        self.calls[index] += 1
        update = _seconds(json.loads(body))
        update["update_id"] = next(self._update_ids)
        if "callback_query" in update:
            update["callback_query"].setdefault("chat_instance", "emulator")
        response = await self._http.post(f"http://127.0.0.1:{self.targets[index]}/{WEBHOOK_PATH}", json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": self.secret})
        self.forwarded += 1
        return response.status_code

    async def passed_on(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` updates went through (the emulator calls the webhook in the background)."""
        deadline = time.monotonic() + timeout
        while self.forwarded < count:
            assert time.monotonic() < deadline, f"the emulator called the webhook {self.forwarded} times, not {count}"
            await asyncio.sleep(0.01)

    async def start(self) -> None:
        import tornado.web  # python-telegram-bot's webhook server, already installed

        balancer = self

        class Handler(tornado.web.RequestHandler):
            async def post(self) -> None:
                self.set_status(await balancer.forward(self.request.body))

        app = tornado.web.Application([(rf"/{WEBHOOK_PATH}", Handler)])
        self._server = app.listen(self.port, address="127.0.0.1")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        await self._http.aclose()


class CuttableRedis:
    """A TCP forwarder to Redis that the test can cut, open connections included: Redis down
    for the bots without stopping the machine's Redis (other tests use it)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        self.port = _free_port()
        self.url = parsed._replace(netloc=f"127.0.0.1:{self.port}").geturl()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()


@dataclass
class TwoBots:
    token: str
    emulator_url: str
    balancer: Balancer
    processes: list[subprocess.Popen]
    redis: CuttableRedis
    logs: list[Path]

    def user(self) -> EmulatedUser:
        return EmulatedUser(self.emulator_url, self.token, new_user_id())

    async def say(self, user: EmulatedUser, text: str | None = None, **fields: Any) -> None:
        """One update of ``user``, passed on to a bot before the next is sent."""
        expected = self.balancer.forwarded + 1
        if text is not None:
            await user.say(text)
        else:
            await user.send_raw(**fields)
        await self.balancer.passed_on(expected)

    async def press(self, user: EmulatedUser, message: BotMessage, title_part: str) -> None:
        expected = self.balancer.forwarded + 1
        await user.press(message, title_part)
        await self.balancer.passed_on(expected)


def _start_bot(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.test_two_bots"], cwd=PROJECT_ROOT,
                            env={**env, "WEBHOOK_PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(process: subprocess.Popen, log: Path, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        if READY_MARKER in log.read_text():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
        time.sleep(0.2)
    raise AssertionError(f"bot on port {port} not ready: {log.read_text()}")


def _clear_redis(token: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=namespace(token) + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest_asyncio.fixture(scope="module")
async def two_bots(rasa_stack, base_settings, emulator_url, e2e_dir) -> AsyncIterator[TwoBots]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set TEST_REDIS_URL to run these tests): {exc}")
    token = f"e2e-two-bots-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(24)
    ports = [_free_port(), _free_port()]
    balancer = Balancer(ports, secret)
    await balancer.start()
    redis_link = CuttableRedis(REDIS_URL)
    await redis_link.up()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": f"{emulator_url}/bot",
           "WEBHOOK_URL": f"http://127.0.0.1:{balancer.port}/{WEBHOOK_PATH}", "WEBHOOK_SECRET": secret,
           "WEBHOOK_LISTEN": "127.0.0.1", "REDIS_URL": redis_link.url, "CHAT_MIN_INTERVAL": str(PACE),
           "FLOOD_MAX_MESSAGES": "12", "FLOOD_WINDOW": "60", "PYTHONPATH": str(PROJECT_ROOT)}
    logs = [e2e_dir / f"two-bots-{i}.log" for i in (1, 2)]
    processes = [_start_bot(env, port, log) for port, log in zip(ports, logs)]
    try:
        for process, log, port in zip(processes, logs, ports):
            _wait_ready(process, log, port)
        yield TwoBots(token, emulator_url, balancer, processes, redis_link, logs)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        await balancer.stop()
        await redis_link.cut()
        _clear_redis(token)


async def _bot_messages(user: EmulatedUser, count: int, timeout: float = 40, settle: float = 2.0
                        ) -> list[tuple[float, str]]:
    """The bot's messages to the user, ``(time received by the emulator in s, text)``, in order."""
    received: list[tuple[float, str]] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        response = await user.http.post(f"{user.api}/getUpdates", json={"token": user.token, "chatId": user.user_id})
        new = [(item["time"] / 1000, item["message"].get("text", "")) for item in response.json()["result"]]
        if new:
            received.extend(new)
            last_new = time.monotonic()
        elif len(received) >= count and time.monotonic() - last_new >= settle:
            break
        await asyncio.sleep(0.1)
    assert len(received) >= count, f"expected {count} messages, got {[text for _, text in received]}"
    return received


def _paced(messages: list[tuple[float, str]]) -> None:
    gaps = [later - earlier for (earlier, _), (later, _) in zip(messages, messages[1:])]
    # Each message waits for its slot; the emulator's clock sees it a few ms later or earlier.
    assert min(gaps) >= PACE * 0.6, [round(gap, 3) for gap in gaps]


async def test_a_burst_of_one_chat_spread_over_both_bots_is_answered_in_order_each_once(two_bots):
    user = two_bots.user()
    before = list(two_bots.balancer.calls)
    photo = {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]}
    voice = {"voice": {"file_id": "v1", "file_unique_id": "u2", "duration": 3}}
    # Rasa's answers take a while, the media answers none: out of order shows at once.
    await two_bots.say(user, "bonjour")
    await two_bots.say(user, **photo)
    await two_bots.say(user, "merci")
    await two_bots.say(user, **voice)
    await two_bots.say(user, "au revoir")
    messages = await _bot_messages(user, count=5)
    await user.aclose()
    assert sorted(after - earlier for after, earlier in zip(two_bots.balancer.calls, before)) == [2, 3]  # both bots
    texts = [text for _, text in messages]
    assert texts.count(t("bot.media.photo")) == 1 and texts.count(t("bot.media.voice")) == 1
    greeting = next(i for i, x in enumerate(texts) if "Ici c'est ma place" in x)
    thanks = next(i for i, x in enumerate(texts) if "plaisir" in x or "De rien" in x)
    bye = next(i for i, x in enumerate(texts) if "bientôt" in x or "Bonne continuation" in x)
    assert greeting < texts.index(t("bot.media.photo")) < thanks < texts.index(t("bot.media.voice")) < bye, texts
    assert [x for x in texts if "Ici c'est ma place" in x] == [texts[greeting]]  # the greeting once
    _paced(messages)


async def test_the_flood_limit_counts_across_both_bots(two_bots):
    user = two_bots.user()
    before = list(two_bots.balancer.calls)
    photo = {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]}
    for _ in range(14):
        await two_bots.say(user, **photo)
    messages = await _bot_messages(user, count=13)
    await user.aclose()
    assert [after - earlier for after, earlier in zip(two_bots.balancer.calls, before)] == [7, 7]
    texts = [text for _, text in messages]
    # 12 in the window in all (each bot alone would have answered all 14), the 13th refused once
    # (its warning goes at once, not behind the answers still paced).
    assert sorted(texts) == sorted([t("bot.media.photo")] * 12 + [t("bot.flood")])
    _paced(messages)


async def test_two_presses_of_one_keyboard_on_the_two_bots_answer_once_in_order(two_bots):
    user = two_bots.user()
    await two_bots.say(user, "bonjour")
    menu = (await user.replies())[-1]
    before = list(two_bots.balancer.calls)
    await two_bots.press(user, menu, "Les aides")  # one bot gets this press...
    await two_bots.press(user, menu, "Poser une question")  # ...the other this one, at once
    texts = [m.text for m in await user.replies(count=2, timeout=30, settle=2.0)]
    await user.aclose()
    assert [after - earlier for after, earlier in zip(two_bots.balancer.calls, before)] == [1, 1]
    assert "Tu es déjà en apprentissage ?" in texts[-2]  # the first press, answered first
    assert texts[-1] == t("bot.button_expired") and texts.count(t("bot.button_expired")) == 1


async def test_an_update_run_again_by_the_other_bot_is_processed_once_by_rasa(two_bots, base_settings):
    """What happens when a bot process dies mid-update and the other runs it again (or Telegram
    re-delivers it): the message id sent to Rasa is Telegram's update id, so Rasa processes it once."""
    user = two_bots.user()
    person = {"id": user.user_id, "is_bot": False, "first_name": "Léa", "language_code": "fr"}
    update = {"update_id": 900_000 + user.user_id, "message": {
        "message_id": 1, "from": person, "chat": {"id": user.user_id, "type": "private", "first_name": "Léa"},
        "date": int(time.time()), "text": "merci"}}
    async with httpx.AsyncClient(timeout=10) as http:
        for port in two_bots.balancer.targets:  # the same update, run by one bot then by the other
            response = await http.post(f"http://127.0.0.1:{port}/{WEBHOOK_PATH}", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": two_bots.balancer.secret})
            assert response.status_code == 200
            await user.replies(count=1, timeout=30)
        tracker = (await http.get(f"{base_settings.rasa_url}/conversations/{user.user_id}/tracker",
                                  params={"token": base_settings.rasa_auth_token})).json()
    await user.aclose()
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == ["merci"]


async def test_redis_down_mid_run_every_message_is_still_answered_once(two_bots):
    """Redis away: each bot runs on its own limits and order (a warning in its log), nothing is lost;
    back: shared again."""
    photo = {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]}
    voice = {"voice": {"file_id": "v1", "file_unique_id": "u2", "duration": 3}}
    await two_bots.redis.cut()
    user = two_bots.user()
    try:
        await two_bots.say(user, **photo)
        await two_bots.say(user, "merci")
        await two_bots.say(user, **voice)
        texts = [text for _, text in await _bot_messages(user, count=3)]
        assert texts.count(t("bot.media.photo")) == 1 and texts.count(t("bot.media.voice")) == 1
        assert len([x for x in texts if "plaisir" in x or "De rien" in x]) == 1, texts
        # (The order across the two processes is not kept while Redis is away: each keeps its own.)
        for log in two_bots.logs:
            assert log.read_text().count("Redis unavailable") == 1, log.read_text()[-3000:]
    finally:
        await two_bots.redis.up()
        await user.aclose()
    await asyncio.sleep(6)  # the bots ask Redis again 5 s after a failure
    user = two_bots.user()
    for _ in range(14):
        await two_bots.say(user, **photo)
    texts = [text for _, text in await _bot_messages(user, count=13)]
    await user.aclose()
    assert sorted(texts) == sorted([t("bot.media.photo")] * 12 + [t("bot.flood")])  # shared again
    for log in two_bots.logs:
        assert "Redis is back" in log.read_text()


def main() -> None:
    """One bot process of the test: the product's front serving its webhook, speaking to the emulator
    through the test's bridge (its answers differ from Telegram's in small ways)."""
    from akto_data.logs import configure_logging
    from akto_data.settings import load_settings
    from bot.telegram_front import TelegramFront
    from tests.e2e.emulator import EmulatorBridge

    settings = load_settings()
    configure_logging(settings.log_level)
    front = TelegramFront(settings)
    front.build(request=EmulatorBridge(connection_pool_size=16), updates_request=EmulatorBridge())
    front.run()


if __name__ == "__main__":
    main()
