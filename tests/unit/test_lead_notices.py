"""Issue 10, finding 1: the young person's status notices are sent by the bot (the only
process with the token), with python-telegram-bot's Bot; a refusal never stores or logs
the token, a blocked bot is not asked again, and the other processes never get the token."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from telegram import Bot

from akto_data.db import session_scope
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.models import OutboxMessage
from akto_data.leads.notices import send_due_notices
from akto_data.leads.outbox import BACKOFF
from akto_data.leads.store import create_lead
from akto_data.models import utcnow
from akto_data.settings import load_settings
from bot.notices import send_notice
from stack.services import Service, Stack
from tests.unit.test_lead_delivery import free_port, lead_data

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


class FakeBotApi:
    """A real HTTP server answering like the Telegram Bot API, with a chosen refusal for sendMessage."""

    def __init__(self, refuse: tuple[int, str] | None = None, retry_after: int | None = None) -> None:
        self.sent: list[tuple[str, dict]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if "json" in (self.headers.get("Content-Type") or ""):
                    data = json.loads(raw or b"{}")
                else:  # python-telegram-bot posts form fields
                    data = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                method = self.path.rsplit("/", 1)[-1]
                code, answer = 200, {"ok": True, "result": True}
                if method == "getMe":
                    answer["result"] = {"id": 123456789, "is_bot": True, "first_name": "Test", "username": "test_bot"}
                elif method == "sendMessage" and refuse:
                    code, answer = refuse[0], {"ok": False, "error_code": refuse[0], "description": refuse[1]}
                    if retry_after:
                        answer["parameters"] = {"retry_after": retry_after}
                elif method == "sendMessage":
                    owner.sent.append((self.path, data))
                    answer["result"] = {"message_id": len(owner.sent), "date": int(time.time()),
                                        "chat": {"id": int(data["chat_id"]), "type": "private"},
                                        "text": data.get("text", "")}
                payload = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/bot"

    def close(self) -> None:
        self.server.shutdown()


def send_with_bot(api: FakeBotApi) -> int:
    async def run() -> int:
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            return await send_due_notices(lambda chat, text: send_notice(bot, chat, text))

    return asyncio.run(run())


def notices() -> list[OutboxMessage]:
    with session_scope() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "telegram")
                                    .order_by(OutboxMessage.id)))


def opened_lead(chat_id: str = "555") -> str:
    lead = create_lead(lead_data(chat_id=chat_id), "v1")
    with session_scope() as session:
        apply_status(session, lead.idempotency_key, "read")
    return lead.idempotency_key


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_finding_1_the_bot_sends_the_notice_and_the_worker_does_not(db, request, monkeypatch):
    request.getfixturevalue(db)
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)  # even if the worker had it, it must not send notices
    api = FakeBotApi()
    try:
        opened_lead()
        OutboxWorker(SmtpSettings(port=free_port(), timeout=1)).run_once()
        assert [n.state for n in notices()] == ["pending"] and api.sent == []
        assert send_with_bot(api) == 1
        assert send_with_bot(api) == 0  # sent once
    finally:
        api.close()
    (path, data), = api.sent
    assert path == f"/bot{TOKEN}/sendMessage" and data["chat_id"] == "555"
    assert "a ouvert ta demande" in data["text"] and "CAP Cuisine" in data["text"]
    assert [(n.state, n.attempts, n.last_error) for n in notices()] == [("sent", 1, None)]


def test_finding_1_a_blocked_bot_never_stores_or_logs_the_token_and_is_not_retried(catalogue, monkeypatch, caplog):
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    api = FakeBotApi(refuse=(403, "Forbidden: bot was blocked by the user"))
    try:
        opened_lead()
        # As in the bot process (akto_data.logs.configure_logging, LOG_LEVEL=INFO): httpx's request
        # lines, which print the URL, are silenced; everything else at INFO and above is captured.
        httpx_logger = logging.getLogger("httpx")
        level = httpx_logger.level
        httpx_logger.setLevel(logging.WARNING)
        try:
            with caplog.at_level(logging.INFO):
                assert send_with_bot(api) == 0
        finally:
            httpx_logger.setLevel(level)
    finally:
        api.close()
    (notice,) = notices()
    assert (notice.state, notice.attempts) == ("failed", 1)  # permanent: not retried every hour
    assert "403" in notice.last_error and "blocked" in notice.last_error
    assert TOKEN not in notice.last_error and TOKEN.split(":")[1] not in caplog.text
    assert "not delivered" in caplog.text  # the failure itself is logged, without the token


def test_finding_1_telegram_429_waits_as_long_as_asked(catalogue, monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    api = FakeBotApi(refuse=(429, "Too Many Requests: retry after 600"), retry_after=600)
    before = utcnow()
    try:
        opened_lead()
        send_with_bot(api)
    finally:
        api.close()
    (notice,) = notices()
    assert notice.state == "pending" and notice.attempts == 1 and TOKEN not in (notice.last_error or "")
    wait = notice.next_attempt_at.replace(tzinfo=None) - before.replace(tzinfo=None)
    assert wait >= timedelta(seconds=590) and wait > BACKOFF[0]


def test_finding_1_console_chats_notices_are_skipped_by_the_worker(catalogue, monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    opened_lead(chat_id="console-lea")
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1)).run_once()
    assert [n.state for n in notices()] == ["skipped"]


def test_finding_1_only_the_bot_process_gets_the_token(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    show = [sys.executable, "-c", "import os; print('TOKEN=' + os.environ.get('TELEGRAM_BOT_TOKEN', 'none'))"]
    with Stack(load_settings(), log_dir=tmp_path) as stack:
        started = [stack.start(Service(name, show, lambda s: True, where="")) for name in
                   ("rasa", "actions", "outbox", "bot")]
        for service in started:
            assert service.process is not None
            service.process.wait(timeout=30)
    seen = {s.name: (tmp_path / f"{s.name}.log").read_text().strip() for s in started}
    assert seen == {"rasa": "TOKEN=none", "actions": "TOKEN=none", "outbox": "TOKEN=none",
                    "bot": f"TOKEN={TOKEN}"}

