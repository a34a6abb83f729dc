"""Issue 10, finding 7: a failed lead submission is told to the young person, keeps
every answer, and a retry after the cause is fixed stores the lead (PostgreSQL, the
production database, where over-long values are refused)."""

from __future__ import annotations

import logging

from sqlalchemy import create_engine, select

from actions.lead_submit import RETRY_PAYLOAD, ActionSubmitLead
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.models import Lead
from akto_data.leads.store import column_lengths
from tests.unit.test_lead_form import FILLED, run

LONG_EMAIL = "l" * 300 + "@gmail.com"  # 310 characters; the contact column holds 255


def stored_leads() -> list[Lead]:
    with session_scope() as session:
        return list(session.scalars(select(Lead)))


def test_finding_7_overlong_email_on_postgresql_still_gets_an_answer_and_a_lead(catalogue_postgres, caplog):
    caplog.set_level(logging.WARNING)
    slots = {**FILLED, "lead_contact_channel": "email", "lead_contact_value": LONG_EMAIL,
             "lead_first_name": "L" * 100, "lead_message": "m" * 5000, "lead_consent": "yes"}
    messages, events = run(ActionSubmitLead(), slots)
    assert "C'est envoyé" in messages[0]["text"]  # before: a database error, no answer at all
    (lead,) = stored_leads()
    assert len(lead.contact_value) == column_lengths(Lead)["contact_value"] == 255
    assert len(lead.first_name) == 64 and len(lead.message) == 5000  # Text columns are not cut
    assert LONG_EMAIL not in caplog.text and "contact_value" in caplog.text  # field named, value not logged


def test_finding_7_failed_submission_is_told_keeps_answers_and_retry_works(catalogue_postgres, caplog):
    caplog.set_level(logging.INFO)
    engine = create_engine(catalogue_postgres)
    with engine.begin() as connection:  # the database refuses every new lead for a while
        connection.exec_driver_sql("ALTER TABLE app_lead ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    try:
        messages, events = run(ActionSubmitLead(), {**FILLED, "lead_consent": "yes"})
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE app_lead DROP CONSTRAINT refuse_all")
        engine.dispose()

    assert stored_leads() == []
    (message,) = messages
    assert message["text"] == t("lead.submit_failed") and "gardé toutes tes réponses" in message["text"]
    assert message["buttons"] == [{"title": t("lead.submit_retry"), "payload": RETRY_PAYLOAD}]
    assert RETRY_PAYLOAD == '/inform{"lead_consent":"yes"}'  # the consent button's payload
    set_slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert set_slots == {"lead_consent": None, "requested_slot": "lead_consent"}  # nothing else cleared
    assert {"event": "active_loop", "name": "lead_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert any(e["event"] == "followup" and e["name"] == "action_listen" for e in events)
    assert "696123456" not in caplog.text and "Léa" not in caplog.text  # no personal data in the log

    # The cause is fixed; the retry button completes the form again: the same answers go.
    messages, events = run(ActionSubmitLead(), {**FILLED, "lead_consent": "yes"})
    assert "C'est envoyé" in messages[0]["text"]
    (lead,) = stored_leads()
    assert (lead.first_name, lead.contact_value, lead.cfa_id) == ("Léa", FILLED["lead_contact_value"], "mq_umih")


def test_a_cfa_paused_just_before_consent_is_told_and_the_form_offers_the_other_cfas(catalogue_postgres):
    """Issue 12 review, finding 1: before, "submission failed, try again", and every retry failed the same way."""
    from akto_data.cfa import performance

    with session_scope() as session:
        performance.pause(session, "mq_umih", "ne répond plus", "sarah@akto.example")
    messages, events = run(ActionSubmitLead(), {**FILLED, "lead_consent": "yes"})

    assert stored_leads() == []
    assert [m["text"] for m in messages] == [t("cfa.staff.chosen_cfa_paused")]
    assert not any(m.get("buttons") for m in messages)  # no retry button that would fail again
    set_slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert set_slots == {"lead_cfa": None, "lead_consent": None, "requested_slot": None}  # the rest is kept
    assert {"event": "active_loop", "name": "lead_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    # The form runs again at once: its first empty question is the CFA, listed without the paused one.
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "lead_form"
