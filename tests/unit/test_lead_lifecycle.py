"""After a lead is sent: signed status links, notices to the young person, one reminder,
webhook signed with HMAC-SHA256, anonymisation after the retention, masked logs."""

import hashlib
import hmac
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.db import session_scope
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.lifecycle import add_working_days, anonymise_expired, apply_status, queue_reminders
from akto_data.leads.links import status_url
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.leads.status_page import serve_in_background
from akto_data.leads.store import create_lead
from akto_data.logs import install_masking
from tests.unit.test_lead_delivery import Inbox, free_port, lead_data


class Receiver:
    """A real HTTP server standing for a CFA's webhook or the Telegram Bot API."""

    def __init__(self):
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true, "result": {}}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def outbox(kind=None):
    with session_scope() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.channel, m.kind, m.state, m.payload) for m in rows if kind is None or m.kind == kind]


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_signed_link_page_confirms_then_records_the_status_and_notifies_the_young_person(db, request, monkeypatch,
                                                                                          receiver):
    request.getfixturevalue(db)
    monkeypatch.setenv("LEAD_LINKS_SECRET", "test-secret")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "T0K")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"{receiver.url}/bot")
    page = serve_in_background("127.0.0.1", 0)
    monkeypatch.setenv("LEAD_LINKS_BASE_URL", f"http://127.0.0.1:{page.server_port}")
    try:
        lead = create_lead(lead_data(chat_id="555"), "v1")
        link = status_url(lead.idempotency_key, "read")
        shown = httpx.get(link)
        assert shown.status_code == 200 and "<form method='post'>" in shown.text
        assert outbox("notice") == []  # a GET (mail scanner) changes nothing
        forged = httpx.post(link.replace("/read?", "/enrolled?"))
        assert forged.status_code == 404
        done = httpx.post(link)
        assert done.status_code == 200 and "Lu" in done.text
        assert httpx.post(link).status_code == 200  # a second click...
        assert outbox("notice") == [("telegram", "notice", "pending", {"status": "read"})]  # ...one notice
        with session_scope() as session:
            statuses = [e.status for e in session.scalars(select(LeadStatusEvent).order_by(LeadStatusEvent.id))]
        assert statuses == ["new", "read"]
        OutboxWorker(SmtpSettings(port=free_port(), timeout=1)).run_once()
    finally:
        page.shutdown()
    (path, _, body) = receiver.requests[0]
    assert path == "/botT0K/sendMessage"
    sent = json.loads(body)
    assert sent["chat_id"] == "555" and "a ouvert ta demande" in sent["text"] and "CAP Cuisine" in sent["text"]


def test_the_lead_email_carries_a_signed_link_per_status(catalogue, monkeypatch):
    from aiosmtpd.controller import Controller

    monkeypatch.setenv("LEAD_LINKS_SECRET", "test-secret")
    port, inbox = free_port(), Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        lead = create_lead(lead_data(), "v1")
        assert OutboxWorker(SmtpSettings(port=port)).run_once() == 1
    finally:
        controller.stop()
    text = inbox.messages[0][1].get_body(("plain",)).get_content()
    html = inbox.messages[0][1].get_body(("html",)).get_content()
    for status in ("read", "contacted", "enrolled", "not_reachable"):
        assert status_url(lead.idempotency_key, status) in text
        assert status_url(lead.idempotency_key, status).replace("&", "&amp;") in html
    assert "à la rentrée" in text and "téléphone" in text  # labels, not codes


def test_webhook_is_signed_with_hmac_sha256(catalogue, receiver, monkeypatch):
    secret = "s3cret-shared-with-the-cfa"
    with session_scope() as session:
        delivery = session.get(CatCfaDelivery, "mq_umih")
        delivery.webhook_url, delivery.webhook_secret = f"{receiver.url}/hook", secret
    lead = create_lead(lead_data(), "v1")
    worker = OutboxWorker(SmtpSettings(port=free_port(), timeout=1))
    worker.run_once()  # e-mail fails (no SMTP), webhook goes through
    assert [(c, s) for c, _, s, _ in outbox()] == [("email", "pending"), ("webhook", "sent")]
    path, headers, body = receiver.requests[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert path == "/hook" and headers["X-Signature"] == expected and headers["X-Lead-Key"] == lead.idempotency_key
    data = json.loads(body)
    assert data["contact_value"] == "0696 12 34 56" and data["consent_version"] == "v1"
    assert set(data["status_links"]) == {"read", "contacted", "enrolled", "not_reachable"}


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert add_working_days(friday, 2) == datetime(2026, 12, 1, 10, tzinfo=UTC)  # Tuesday


def test_one_reminder_when_the_cfa_has_not_opened_the_lead_in_2_working_days(catalogue):
    lead = create_lead(lead_data(), "v1")
    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        row.status = "sent"
        row.outbox[0].state, row.outbox[0].sent_at = "sent", friday
    assert queue_reminders(friday + timedelta(days=3)) == 0  # Monday: 1 working day
    assert queue_reminders(friday + timedelta(days=4, minutes=1)) == 1  # Tuesday
    assert queue_reminders(friday + timedelta(days=9)) == 0  # only one
    assert outbox("reminder") == [("email", "reminder", "pending", None)]
    # An opened lead is never reminded.
    other = create_lead(lead_data(cfa_id="mq_cma", rome="D1102"), "v1")
    with session_scope() as session:
        row = session.get(Lead, other.id)
        row.outbox[0].state, row.outbox[0].sent_at = "sent", friday
    apply_status(other.idempotency_key, "read")
    assert queue_reminders(friday + timedelta(days=9)) == 0


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_leads_are_anonymised_after_the_retention(db, request):
    request.getfixturevalue(db)
    old = create_lead(lead_data(chat_id="1"), "v1")
    recent = create_lead(lead_data(chat_id="2"), "v1")
    with session_scope() as session:
        session.get(Lead, old.id).created_at = datetime.now(UTC) - timedelta(days=30 * 24 + 1)
    assert anonymise_expired(24) == 1
    with session_scope() as session:
        gone, kept = session.get(Lead, old.id), session.get(Lead, recent.id)
        assert (gone.chat_id, gone.first_name, gone.town, gone.contact_value, gone.message) == (None,) * 5
        assert gone.anonymised_at is not None and gone.territory == "martinique"  # statistics stay
        assert gone.idempotency_key != old.idempotency_key  # the CFA holds the old one
        assert kept.contact_value == "0696 12 34 56"
    assert anonymise_expired(24) == 0


def test_logs_never_show_phone_numbers_or_emails(caplog):
    install_masking()
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("slot %s = %s", "lead_contact_value", "0696 12 34 56")
        logging.getLogger("anything").warning("bounce from lea.martin@gmail.com")
    text = caplog.text
    assert "0696" not in text and "lea.martin" not in text
    assert "[téléphone]" in text and "[e-mail]" in text
