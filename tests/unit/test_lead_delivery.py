"""Leads reach the CFA's mail server once, even when it is down for a while."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.models import OutboxMessage
from akto_data.leads.store import DuplicateLead, TooManyLeads, create_lead, qualification_score
from akto_data.models import utcnow


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lead_data(chat_id="42", cfa_id="mq_umih", rome="G1602", **extra):
    data = {"chat_id": chat_id, "cfa_id": cfa_id, "rome": rome, "training": "CAP Cuisine", "first_name": "Léa",
            "age": 19, "territory": "martinique", "town": "Le Lamentin", "diploma_level": 3,
            "start_when": "rentree", "has_employer": False, "mobility": "none", "contact_channel": "phone",
            "contact_value": "0696 12 34 56", "reasons": ["places", "pay"]}
    data.update(extra)
    return data


@pytest.mark.parametrize("db", ["catalogue", "catalogue_postgres"])
def test_smtp_down_then_up_every_lead_arrives_exactly_once(db, request):
    request.getfixturevalue(db)
    port = free_port()
    keys = [create_lead(lead_data(chat_id=str(i)), "v1").idempotency_key for i in range(3)]
    now = [utcnow()]
    worker = OutboxWorker(SmtpSettings(port=port, timeout=2), clock=lambda: now[0])

    assert worker.run_once() == 0  # nobody listening: connection refused
    with session_scope() as session:
        pending = list(session.scalars(select(OutboxMessage)))
    assert [(m.state, m.attempts, bool(m.last_error)) for m in pending] == [("pending", 1, True)] * 3

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert worker.run_once() == 0  # back-off: not due yet
        now[0] += timedelta(minutes=1)
        restarted = OutboxWorker(SmtpSettings(port=port), clock=lambda: now[0])  # a new process
        assert restarted.run_once() == 3
        assert restarted.run_once() == 0
    finally:
        controller.stop()
    received = sorted(m["X-Lead-Key"] for _, m in inbox.messages)
    assert received == sorted(keys)  # each exactly once
    rcpt, email = inbox.messages[0]
    assert rcpt == ["leads@mq-umih.example"]
    body = email.get_body(("plain",)).get_content()
    assert "CAP Cuisine" in body and "Léa" in body and "consentement v1" in body
    assert email.get_body(("html",)) is not None


def test_same_training_same_cfa_within_7_days_is_refused_and_5_a_day_max(catalogue):
    create_lead(lead_data(), "v1")
    with pytest.raises(DuplicateLead):
        create_lead(lead_data(), "v1")
    for rome in ("G1603", "G1803", "G1703", "K2503"):
        create_lead(lead_data(rome=rome), "v1")
    with pytest.raises(TooManyLeads):
        create_lead(lead_data(rome="K2204"), "v1")


def test_qualification_score_rules():
    assert qualification_score(lead_data(), 3) == 20 + 15 + 15 + 15
    assert qualification_score(lead_data(has_employer=True, mobility="hexagone"), 3) == 100
    assert qualification_score(lead_data(age=40, diploma_level=6, start_when="plus tard", contact_value=""), 3) == 0


def test_csv_export_of_a_cfa_for_a_date_range(catalogue, tmp_path):
    import csv
    from datetime import date

    from akto_data.leads.export import main

    create_lead(lead_data(chat_id="1"), "v1")
    create_lead(lead_data(chat_id="2", cfa_id="mq_cma", rome="D1102", training="CAP Boulanger"), "v1")
    out = tmp_path / "leads.csv"
    today = utcnow().date()
    assert main(["mq_umih", "--from", str(today), "--to", str(today), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig"), delimiter=";"))
    assert [(r["first_name"], r["training"], r["reasons"]) for r in rows] == [("Léa", "CAP Cuisine", "places, pay")]
    assert main(["mq_umih", "--from", str(date(2020, 1, 1)), "--to", str(date(2020, 12, 31)), "--out", str(out)]) == 0
    assert len(list(csv.DictReader(out.open(encoding="utf-8-sig"), delimiter=";"))) == 0
