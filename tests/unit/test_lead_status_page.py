"""Issue 10, findings 10, 11 and 13: the status page behind the CFA's signed links
(FastAPI + uvicorn), its key, and statuses that only move forward."""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.leads import status_page
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.links import status_url, valid_link
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.leads.status_page import serve_in_background
from akto_data.leads.store import create_lead
from akto_data.privacy import erase_chat
from akto_data.settings import lead_links_secret
from tests.unit.test_lead_delivery import Inbox, free_port, lead_data

SECRET = "a-long-enough-test-secret"


@pytest.fixture
def page(monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", SECRET)
    server = serve_in_background("127.0.0.1", 0)
    monkeypatch.setenv("LEAD_LINKS_BASE_URL", f"http://127.0.0.1:{server.server_port}")
    yield server
    server.shutdown()


def raw_exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk


def notices() -> list[tuple[str, dict | None]]:
    with session_scope() as session:
        return [(m.state, m.payload) for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "telegram").order_by(OutboxMessage.id))]


def statuses(lead_id: int) -> list[str]:
    with session_scope() as session:
        return [e.status for e in session.scalars(
            select(LeadStatusEvent).where(LeadStatusEvent.lead_id == lead_id).order_by(LeadStatusEvent.id))]


def test_finding_10_non_ascii_signature_gets_a_page_not_a_dropped_connection(catalogue, page):
    lead = create_lead(lead_data(), "v1")
    link = status_url(lead.idempotency_key, "read").split("?")[0]
    for method in ("GET", "POST"):
        answer = httpx.request(method, f"{link}?sig=%C3%A9")
        assert answer.status_code == 404 and "pas valide" in answer.text
    assert notices() == []


def test_finding_10_head_bad_and_huge_requests_are_answered_and_logged_without_keys(catalogue, page, caplog):
    lead = create_lead(lead_data(), "v1")
    link = status_url(lead.idempotency_key, "read")
    with caplog.at_level(logging.INFO):
        head = httpx.head(link)
        assert head.status_code == 200 and head.content == b""
        assert raw_exchange(page.server_port, b"BLAH / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert raw_exchange(page.server_port, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
        # Over h11's 16 KB limit, under one 64 KB loopback segment: the server reads it all before it answers and
        # closes. 70,000 bytes came in two segments, and closing with the second unread sent a reset that could
        # overtake the answer.
        huge = raw_exchange(page.server_port, b"GET /lead/" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert huge.startswith(b"HTTP/1.1 4")
        assert httpx.get(link).status_code == 200  # still serving
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "status page: HEAD 200" in server_side and "status page: GET 200" in server_side
    assert lead.idempotency_key not in server_side and link.split("sig=")[1] not in server_side


def test_finding_10_a_silent_or_trickling_connection_is_closed(catalogue, monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", SECRET)
    monkeypatch.setattr(status_page, "CONNECTION_DEADLINE", 1.0)
    server = serve_in_background("127.0.0.1", 0)
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as silent:
            assert silent.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as slow:
            started = time.monotonic()
            with pytest.raises(OSError):
                for byte in b"GET /lead/abc HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100:
                    slow.sendall(bytes([byte]))
                    time.sleep(0.1)
                    if time.monotonic() - started > 8:
                        break
            assert time.monotonic() - started < 5
    finally:
        server.shutdown()


def test_finding_10_erased_lead_link_says_it_is_gone(catalogue, page):
    lead = create_lead(lead_data(chat_id="77"), "v1")
    link = status_url(lead.idempotency_key, "read")
    erase_chat("77")
    shown = httpx.get(link)
    done = httpx.post(link)
    assert shown.status_code == done.status_code == 410
    assert "existe plus" in done.text and "est noté" not in done.text
    assert notices() == []


def test_finding_10_clicking_back_and_forth_queues_one_notice(catalogue, page):
    lead = create_lead(lead_data(chat_id="555"), "v1")
    click = {s: status_url(lead.idempotency_key, s) for s in ("read", "contacted", "not_reachable")}
    for status in ("read", "contacted", "not_reachable", "contacted", "not_reachable"):
        assert httpx.post(click[status]).status_code == 200
    assert notices() == [("pending", {"status": "not_reachable"})]  # one notice, the last status
    with session_scope() as session:  # the bot sends it
        session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "telegram")).one().state = "sent"
    httpx.post(click["contacted"])
    assert notices() == [("sent", {"status": "not_reachable"}), ("pending", {"status": "contacted"})]
    httpx.post(click["not_reachable"])  # back where the young person was last told: nothing to send
    assert notices() == [("sent", {"status": "not_reachable"}), ("cancelled", {"status": "contacted"})]
    assert "déjà noté" in httpx.post(click["not_reachable"]).text


def test_finding_13_statuses_only_move_forward(catalogue, page):
    port, inbox = free_port(), Inbox()
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    lead = create_lead(lead_data(chat_id="555"), "v1")
    # The CFA clicks "Contacté" (from the webhook's links) before the e-mail is recorded as sent.
    assert httpx.post(status_url(lead.idempotency_key, "contacted")).status_code == 200
    controller.start()
    try:
        assert OutboxWorker(SmtpSettings(port=port)).run_once() == 1
    finally:
        controller.stop()
    with session_scope() as session:
        assert session.get(Lead, lead.id).status == "contacted"  # not back to "sent"
    assert statuses(lead.id) == ["new", "contacted"]
    late = httpx.post(status_url(lead.idempotency_key, "read"))
    assert late.status_code == 409 and "Contacté" in late.text and "arrière" in late.text
    assert httpx.post(status_url(lead.idempotency_key, "enrolled")).status_code == 200
    assert httpx.post(status_url(lead.idempotency_key, "not_reachable")).status_code == 409
    assert statuses(lead.id) == ["new", "contacted", "enrolled"]


def test_finding_11_empty_or_short_link_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("LEAD_LINKS_SECRET", raising=False)
    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(tmp_path))
    (tmp_path / "lead_links.secret").write_text("")  # what a crash during the old write left
    forged = hmac.new(b"", b"0123456789abcdef:read", hashlib.sha256).hexdigest()
    assert not valid_link("0123456789abcdef", "read", forged)
    key = (tmp_path / "lead_links.secret").read_text()
    assert len(key) == 64 and (tmp_path / "lead_links.secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("LEAD_LINKS_SECRET", "short")
    with pytest.raises(ValueError):
        status_url("0123456789abcdef", "read")


def test_finding_11_processes_starting_together_share_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv("LEAD_LINKS_SECRET", raising=False)
    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(tmp_path))
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(lead_links_secret())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
