"""After a lead is sent: signed status links, notices to the young person, reminders,
webhook signed with HMAC-SHA256, anonymisation after the retention, masked logs."""

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.db import session_scope
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.followup import queue_reminders
from akto_data.leads.lifecycle import add_working_days, apply_status
from akto_data.leads.links import WEBHOOK_TOLERANCE, status_url, verify_webhook
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.leads.status_page import serve_in_background
from akto_data.leads.store import create_lead
from akto_data.logs import install_masking
from akto_data.retention import anonymise_expired_leads
from tests.unit.test_lead_delivery import Inbox, free_port, lead_data
from tests.unit.test_lead_notices import TOKEN, FakeBotApi, send_with_bot


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


#: A Martinique phone number as typed: "0696" not inside a random link signature or a base64 line.
TYPED_PHONE = re.compile(r"(?<![0-9A-Za-z+/=])0696")

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
    monkeypatch.setenv("LEAD_LINKS_SECRET", "test-secret-of-16+chars")
    page = serve_in_background("127.0.0.1", 0)
    telegram = FakeBotApi()
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
        assert send_with_bot(telegram) == 1  # the bot sends it (the only process with the token)
    finally:
        page.shutdown()
        telegram.close()
    (path, sent), = telegram.sent
    assert path == f"/bot{TOKEN}/sendMessage"
    assert sent["chat_id"] == "555" and "a ouvert ta demande" in sent["text"] and "CAP Cuisine" in sent["text"]


def test_the_lead_email_carries_a_signed_link_per_status(catalogue, monkeypatch):
    from aiosmtpd.controller import Controller

    monkeypatch.setenv("LEAD_LINKS_SECRET", "test-secret-of-16+chars")
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
    for status in ("contacted", "interview", "enrolled", "not_reachable"):  # "read": opening the portal page
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
    signed = headers["X-Signature-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert path == "/hook" and headers["X-Signature"] == expected and headers["X-Lead-Key"] == lead.idempotency_key
    data = json.loads(body)
    assert data["contact_value"] == "0696 12 34 56" and data["consent_version"] == "v1"
    assert set(data["status_links"]) == {"read", "contacted", "interview", "enrolled", "not_reachable"}


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert add_working_days(friday, 2) == datetime(2026, 12, 1, 10, tzinfo=UTC)  # Tuesday


def test_reminders_after_2_then_5_working_days_until_the_cfa_answers(catalogue):
    lead = create_lead(lead_data(), "v1")
    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        row.status = "sent"
        row.outbox[0].state, row.outbox[0].sent_at = "sent", friday
    assert reminders_at(friday + timedelta(days=3)) == 0  # Monday: 1 working day
    assert reminders_at(friday + timedelta(days=4, minutes=1)) == 1  # Tuesday: reminder 1
    assert reminders_at(friday + timedelta(days=4, hours=1)) == 0  # not twice
    assert reminders_at(friday + timedelta(days=7, minutes=1)) == 1  # next Friday, 5 working days: reminder 2
    assert reminders_at(friday + timedelta(days=9)) == 0  # and no third
    assert outbox("reminder") == [("email", "reminder", "pending", {"step": 1}),
                                  ("email", "reminder", "pending", {"step": 2})]
    # An answered lead is never reminded ("read" alone is not an answer).
    other = create_lead(lead_data(cfa_id="mq_cma", rome="D1102"), "v1")
    with session_scope() as session:
        row = session.get(Lead, other.id)
        row.outbox[0].state, row.outbox[0].sent_at = "sent", friday
    with session_scope() as session:
        apply_status(session, other.idempotency_key, "contacted")
    assert reminders_at(friday + timedelta(days=5)) == 0


def reminders_at(now):
    with session_scope() as session:
        return queue_reminders(session, now)


def sent_on(moment, cfa_id="mq_umih", rome="G1602"):
    """A lead whose e-mail reached the CFA at ``moment`` (UTC)."""
    lead = create_lead(lead_data(cfa_id=cfa_id, rome=rome), "v1")
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        row.status = "sent"
        row.outbox[0].state, row.outbox[0].sent_at = "sent", moment
    return lead


def test_finding_18_reminders_count_the_territory_holidays_and_time_zone(catalogue):
    # Martinique: Thursday 21 May 2026; Friday 22 is the abolition of slavery there, Monday 25 is
    # Pentecost Monday: the 2 working days are Tuesday 26 and Wednesday 27.
    thursday = datetime(2026, 5, 21, 14, tzinfo=UTC)  # 10:00 in Martinique
    sent_on(thursday)
    assert reminders_at(datetime(2026, 5, 26, 14, 1, tzinfo=UTC)) == 0  # UTC weekdays alone said Tuesday
    assert reminders_at(datetime(2026, 5, 27, 14, 1, tzinfo=UTC)) == 1
    # Guadeloupe's abolition day is 27 May, not 22: Friday 22 is a working day there.
    assert add_working_days(thursday, 2, "guadeloupe", "America/Guadeloupe") == datetime(2026, 5, 26, 14, tzinfo=UTC)
    assert add_working_days(datetime(2026, 12, 18, 6, tzinfo=UTC), 1, "reunion", "Indian/Reunion") \
        == datetime(2026, 12, 21, 6, tzinfo=UTC)  # Sunday 20 December is La Réunion's, Monday 21 works


def test_finding_18_working_days_are_counted_in_the_territory_time_zone(catalogue):
    # Friday 27 November 2026, 23:00 in Martinique = Saturday 03:00 UTC.
    friday_night = datetime(2026, 11, 28, 3, tzinfo=UTC)
    sent_on(friday_night)
    assert reminders_at(datetime(2026, 12, 1, 12, tzinfo=UTC)) == 0  # Tuesday noon UTC: 1 working day there
    assert reminders_at(datetime(2026, 12, 2, 3, 1, tzinfo=UTC)) == 1  # Tuesday 23:01 in Martinique


def test_finding_12_webhook_signature_covers_a_timestamp_so_a_replay_is_refused(catalogue, receiver):
    secret = "s3cret-shared-with-the-cfa"
    with session_scope() as session:
        delivery = session.get(CatCfaDelivery, "mq_umih")
        delivery.webhook_url, delivery.webhook_secret = f"{receiver.url}/hook", secret
    create_lead(lead_data(), "v1")
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1)).run_once()
    _, headers, body = receiver.requests[0]
    stamp, signature = headers["X-Signature-Timestamp"], headers["X-Signature"]
    now = time.time()
    assert abs(int(stamp) - now) < 60
    assert verify_webhook(body, stamp, signature, secret, now=now)
    assert not verify_webhook(body, stamp, signature, secret, now=now + WEBHOOK_TOLERANCE + 1)  # replayed later
    assert not verify_webhook(body, str(int(stamp) + 600), signature, secret, now=now + 600)  # new date, old sig
    assert not verify_webhook(body.replace(b"CAP Cuisine", b"CAP Autre"), stamp, signature, secret, now=now)
    assert not verify_webhook(body, stamp, signature, "another-secret-of-the-same-size", now=now)


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_leads_are_anonymised_after_the_retention(db, request):
    request.getfixturevalue(db)
    old = create_lead(lead_data(chat_id="1"), "v1")
    recent = create_lead(lead_data(chat_id="2"), "v1")
    with session_scope() as session:
        session.get(Lead, old.id).created_at = datetime.now(UTC) - timedelta(days=30 * 24 + 1)
    with session_scope() as session:
        assert anonymise_expired_leads(session, 24, datetime.now(UTC)) == 1
    with session_scope() as session:
        gone, kept = session.get(Lead, old.id), session.get(Lead, recent.id)
        assert (gone.chat_id, gone.first_name, gone.town, gone.contact_value, gone.message) == (None,) * 5
        assert gone.anonymised_at is not None and gone.territory == "martinique"  # statistics stay
        assert gone.idempotency_key != old.idempotency_key  # the CFA holds the old one
        assert kept.contact_value == "0696 12 34 56"
    with session_scope() as session:
        assert anonymise_expired_leads(session, 24, datetime.now(UTC)) == 0


def test_logs_never_show_phone_numbers_or_emails(caplog):
    install_masking()
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything").info("slot %s = %s", "lead_contact_value", "0696 12 34 56")
        logging.getLogger("anything").warning("bounce from lea.martin@gmail.com")
    text = caplog.text
    assert not TYPED_PHONE.search(text) and "lea.martin" not in text
    assert "[téléphone]" in text and "[e-mail]" in text
