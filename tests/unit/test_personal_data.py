"""Issue #10, findings 2, 9 and 14: one list of the stores of personal data, used by
retention, /mes_donnees and /supprimer; only deep links we publish are stored.

Every store is seeded as the running assistant fills it (our tables through their own
functions, Rasa's ``events`` table created as Rasa 3.6's SQLTrackerStore creates it,
with rows shaped like the ones it writes), then every text column of every table is
scanned for the person's first name, phone, e-mail, username, chat id and free text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, MetaData, Table, inspect, select
from telegram import Update

from akto_data.buttons import register_buttons
from akto_data.chats import DEEP_LINK_PREFIXES, chat_start_source, recognised_source, touch_chat
from akto_data.db import get_engine, session_scope
from akto_data.i18n import text as t
from akto_data.leads.delivery import OutboxWorker
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.store import create_lead
from akto_data.models import Base, utcnow
from akto_data.personal_data import (
    CATALOGUE_PREFIX,
    LEAD_NOT_SHOWN,
    LEAD_SHOWN,
    NON_PERSONAL_SLOTS,
    NON_PROFILE_METADATA,
    NOT_PERSONAL_TABLES,
    PERSONAL_SLOTS,
    RASA_EVENTS,
    TELEGRAM_PROFILE,
    personal_fields,
    personal_tables,
)
from akto_data.privacy import erase_chat, what_we_hold
from akto_data.review import record_feedback, record_unanswered
from akto_data.settings import PROJECT_ROOT
from akto_data.takeover.core import ACTIVE, ASKED, open_request, request_takeover, route_incoming
from bot.conversation import start_payload
from bot.guard import clean_deep_link
from bot.telegram_front import TelegramFront

CHAT = "777123456"
OTHER_CHAT = "555000111"
FIRST_NAME = "Zoéline"
PHONE = "0696 71 82 93"
EMAIL = "zoeline.k@example.org"
USERNAME = "zoeline_972"
FREE_TEXT = "mon rêve c'est la pâtisserie fine à Sainte-Luce"
#: What must be gone from every column of every table once retention has run.
SENTINELS = (FIRST_NAME, PHONE, "71 82 93", "718293", EMAIL, USERNAME, FREE_TEXT, "pâtisserie fine", CHAT)


def rasa_events_table() -> Table:
    """``events`` as Rasa 3.6's ``SQLTrackerStore.SQLEvent`` declares it (the registry's copy)."""
    return RASA_EVENTS


@pytest.fixture(params=["sqlite_db", "postgres_db"])
def db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Our schema (migrated) plus Rasa's events table, on SQLite and on the real PostgreSQL."""
    request.getfixturevalue(request.param)
    engine = get_engine()
    table = rasa_events_table()
    table.drop(engine, checkfirst=True)
    table.create(engine)
    yield engine
    table.drop(engine, checkfirst=True)


def event(type_name: str, timestamp: float, *, intent: str | None = None, action: str | None = None,
          **data: Any) -> dict[str, Any]:
    return {"type_name": type_name, "timestamp": timestamp, "intent_name": intent, "action_name": action,
            "data": json.dumps({"event": type_name, "timestamp": timestamp, **data}, ensure_ascii=False)}


def conversation(sender: str, start: float) -> list[dict[str, Any]]:
    """A lead-form conversation as Rasa 3.6 stores it: session start (metadata copied into
    its slot), user messages with the Telegram profile, every personal slot, the recap."""
    profile = {"channel": "telegram", "chat_id": int(sender), "language": "fr", "first_name": FIRST_NAME,
               "username": USERNAME}
    model = {"model_id": "0f1e2d", "assistant_id": "ici-cest-ma-place"}
    rows = [
        event("action", start, action="action_session_start", name="action_session_start", policy=None,
              confidence=1.0, metadata=model),
        event("session_started", start, metadata=profile),
        event("slot", start, name="session_started_metadata", value=profile, metadata=model),
        event("action", start, action="action_listen", name="action_listen", metadata=model),
    ]
    said = [("greet", "slt"), ("request_cfa_contact", "je veux être contacté par un CFA"),
            ("inform", f"je m'appelle {FIRST_NAME}"), ("inform", f"mon numéro c'est {PHONE}"),
            ("nlu_fallback", FREE_TEXT)]
    moment = start
    for intent, text in said:
        moment += 2
        rows.append(event("user", moment, intent=intent, text=text, metadata=profile, input_channel="rest",
                          message_id=f"m{moment}", parse_data={
                              "intent": {"name": intent, "confidence": 0.91}, "entities": [], "text": text,
                              "message_id": f"m{moment}", "metadata": profile,
                              "intent_ranking": [{"name": intent, "confidence": 0.91}]}))
    values: dict[str, Any] = {
        "start_source": "cfa_972-umih", "territory": "martinique", "age": "19", "pay_age_band": "18", "contract_year": "1",
        "occupation": "G1602", "diploma_level": "3", "aid_progress": json.dumps({"need": "licence"}),
        "quiz_progress": json.dumps({"q1": "a"}), "lead_first_name": FIRST_NAME, "lead_town": "Sainte-Luce",
        "lead_start": "rentree", "lead_employer": "no", "lead_mobility": "islands", "lead_cfa_territory": "guadeloupe",
        "lead_cfa": "mq_umih", "lead_contact_channel": "phone", "lead_contact_value": PHONE,
        "lead_reasons": "pay", "lead_reasons_picked": ["pay", "training"], "lead_message": FREE_TEXT,
        "lead_editing": False, "lead_change": "lead_town", "lead_consent": "yes",
    }
    rows += [event("slot", moment + 1, name=name, value=value, metadata=model) for name, value in values.items()]
    rows.append(event("active_loop", moment + 1, name="lead_form", metadata=model))
    rows.append(event("bot", moment + 2, text=f"Récap : {FIRST_NAME}, {PHONE}, {EMAIL}, « {FREE_TEXT} »",
                      data={"buttons": [{"title": "✅ Oui, j'envoie", "payload": "/affirm"}]},
                      metadata={"utter_action": "utter_lead_recap", **model}))
    return rows


def seed(engine: Engine, chat: str = CHAT, events_at: float | None = None) -> None:
    """Fill every store for ``chat`` the way the running assistant does."""
    touch_chat(chat, language="fr", start_source="cfa_972-umih")
    register_buttons(chat, [(FIRST_NAME, f'/inform{{"lead_first_name":"{FIRST_NAME}"}}'),
                            (EMAIL, f'/inform{{"lead_contact_value":"{EMAIL}"}}')])
    with engine.begin() as connection:
        connection.execute(rasa_events_table().insert(), [
            {"sender_id": chat, **row} for row in conversation(chat, events_at or time.time())])
    with session_scope() as session:
        record_unanswered(session, FREE_TEXT, "fallback", "ask_occupation", 0.2)
        record_feedback(session, "ask_apprentice_pay", True)
    with session_scope() as session:  # an advisor took the chat over; the young person wrote to them
        request_takeover(session, chat, "martinique", ASKED)
        taken = open_request(session, chat)
        assert taken is not None
        taken.state = ACTIVE
        route_incoming(session, chat, f"{FIRST_NAME}, {PHONE}, {EMAIL} : {FREE_TEXT}", None)
    lead = create_lead({
        "chat_id": chat, "cfa_id": "mq_umih", "rome": "G1602", "training": "CAP Cuisine", "first_name": FIRST_NAME,
        "age": 19, "territory": "martinique", "town": "Sainte-Luce", "diploma_level": 3, "start_when": "rentree",
        "has_employer": False, "mobility": "islands", "contact_channel": "email", "contact_value": EMAIL,
        "reasons": ["pay"], "message": FREE_TEXT}, "v1")
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        assert row is not None
        row.outbox[0].last_error = f"SMTPRecipientsRefused: {EMAIL} {PHONE}"
        row.outbox.append(OutboxMessage(channel="telegram", kind="notice", state="sent",
                                        payload={"status": "read", "chat_id": chat, "first_name": FIRST_NAME}))
        # A reply to the CFA, relayed from Telegram to the portal: the young person's own words.
        session.add(LeadMessage(lead_id=row.id, direction="young", state="received",
                                text=f"{FREE_TEXT} {PHONE}"))


def leftovers(engine: Engine) -> list[str]:
    """Every sentinel found in any column of any table, as ``table.column: sentinel``."""
    found = []
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            table = Table(name, MetaData(), autoload_with=connection)
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None or isinstance(value, (int, float, bool)):
                        continue
                    text = (json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
                    found += [f"{name}.{column}: {s}" for s in SENTINELS if s.lower() in text.lower()]
    return found


# -- finding 2: retention reaches every store ---------------------------------------------

def test_finding_2_retention_leaves_no_personal_data_in_any_store(db: Engine) -> None:
    seed(db)
    assert len(leftovers(db)) > 20  # the scan sees what was seeded, in every store

    soon = OutboxWorker(clock=lambda: utcnow() + timedelta(days=1))
    soon.housekeeping()
    assert {line.split(".")[0] for line in leftovers(db)} >= {
        "app_chat_profile", "app_button_payload", "app_unanswered", "app_lead", "app_outbox", "events"}

    # The worker's housekeeping, with the clock past the longest period (24 months of leads).
    later = OutboxWorker(clock=lambda: utcnow() + timedelta(days=30 * 24 + 1))
    later.housekeeping()
    assert leftovers(db) == []
    with session_scope() as session:
        lead = session.scalars(select(Lead)).one()
        # Statistics stay; the key the CFA holds no longer points to the row.
        assert (lead.territory, lead.training, lead.status) == ("martinique", "CAP Cuisine", "new")
        assert lead.anonymised_at is not None and lead.idempotency_key.startswith("anon-")
        assert lead.chat_id is None and lead.reasons == []
        notice = next(m for m in lead.outbox if m.kind == "notice")
        assert notice.payload == {"status": "read"}
        assert all(m.last_error is None for m in lead.outbox)
    assert what_we_hold(CHAT).items == []


def test_finding_2_each_store_keeps_its_own_period(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conversation 180 days after the last message, review log 90 days, leads 24 months."""
    monkeypatch.setenv("CONVERSATION_RETENTION_DAYS", "180")
    monkeypatch.setenv("UNANSWERED_RETENTION_DAYS", "90")
    monkeypatch.setenv("LEAD_RETENTION_MONTHS", "24")
    seed(db)
    OutboxWorker(clock=lambda: utcnow() + timedelta(days=91)).housekeeping()
    remaining = {line.split(".")[0] for line in leftovers(db)}
    assert "app_unanswered" not in remaining
    assert {"app_chat_profile", "events", "app_lead"} <= remaining

    OutboxWorker(clock=lambda: utcnow() + timedelta(days=181)).housekeeping()
    remaining = {line.split(".")[0] for line in leftovers(db)}
    # only the lead, its deliveries and its messages with the CFA, until 24 months
    assert remaining == {"app_lead", "app_outbox", "app_lead_message"}


def test_finding_2_old_messages_of_a_live_conversation_go_and_rasa_still_reads_it(db: Engine) -> None:
    """A chat still talking keeps its current session (what Rasa reads); older events go."""
    now = time.time()
    with db.begin() as connection:
        connection.execute(rasa_events_table().insert(), [
            {"sender_id": OTHER_CHAT, **row} for row in conversation(OTHER_CHAT, now - 200 * 86400)])
        current = [{"sender_id": OTHER_CHAT, **row} for row in conversation(OTHER_CHAT, now - 86400)]
        connection.execute(rasa_events_table().insert(), current)
    OutboxWorker(clock=utcnow).housekeeping()
    events = rasa_events_table()
    with db.connect() as connection:
        kept = connection.execute(select(events.c.timestamp).where(events.c.sender_id == OTHER_CHAT)).scalars().all()
    assert len(kept) == len(current)  # the current session, whole (Rasa counts it to append)
    assert min(kept) >= now - 86400


def test_finding_2_anonymised_lead_loses_the_key_the_cfa_holds(catalogue: str) -> None:
    lead = create_lead({"chat_id": CHAT, "cfa_id": "mq_umih", "rome": "G1602", "training": "CAP Cuisine",
                        "first_name": FIRST_NAME, "age": 19, "territory": "martinique", "contact_channel": "phone",
                        "contact_value": PHONE}, "v1")
    OutboxWorker(clock=lambda: utcnow() + timedelta(days=30 * 24 + 1)).housekeeping()
    with session_scope() as session:
        assert session.scalar(select(Lead).where(Lead.idempotency_key == lead.idempotency_key)) is None


# -- finding 9: /mes_donnees shows everything, from the registry -------------------------

def test_finding_9_mes_donnees_shows_every_registered_field(db: Engine) -> None:
    seed(db)
    held = what_we_hold(CHAT)
    shown = held.render()
    missing = [key for key in personal_fields() if not held.values(key)]
    assert missing == []
    for key in personal_fields():
        assert t(f"privacy.field.{key}") in shown, key
    for value in (FIRST_NAME, PHONE, EMAIL, f"@{USERNAME}", FREE_TEXT, "Sainte-Luce", "martinique", "G1602"):
        assert value in shown
    assert t("privacy.item", label=t("privacy.field.slot.lead_contact_value"), value=PHONE) in shown
    assert "180 jours" in shown and "24 mois" in shown  # the periods, as configured
    # Another chat sees none of it.
    assert what_we_hold(OTHER_CHAT).render() == t("privacy.nothing")


def test_finding_9_every_domain_slot_is_personal_or_declared_not() -> None:
    slots: set[str] = set()
    for path in sorted(Path(PROJECT_ROOT, "domain").glob("*.yml")):
        slots |= set((yaml.safe_load(path.read_text()) or {}).get("slots") or {})
    unclassified = slots - set(PERSONAL_SLOTS) - set(NON_PERSONAL_SLOTS)
    assert unclassified == set(), f"add to PERSONAL_SLOTS or NON_PERSONAL_SLOTS: {unclassified}"
    assert set(PERSONAL_SLOTS) - slots == set()  # nothing stale either


def test_finding_9_every_table_and_lead_column_is_covered() -> None:
    import akto_data.catalogue.tables
    import akto_data.leads.models  # noqa: F401

    ours = set(Base.metadata.tables)
    uncovered = {name for name in ours if not name.startswith(CATALOGUE_PREFIX)} - personal_tables() - set(
        NOT_PERSONAL_TABLES)
    assert uncovered == set(), f"register in akto_data/personal_data.py: {uncovered}"
    columns = {column.key for column in Lead.__table__.columns}
    assert columns - set(LEAD_SHOWN) - set(LEAD_NOT_SHOWN) == set()


def test_finding_9_every_telegram_metadata_key_is_classified() -> None:
    update = Update.de_json({"update_id": 1, "message": {
        "message_id": 1, "date": 0, "text": "slt", "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": FIRST_NAME, "last_name": "K", "username": USERNAME,
                 "language_code": "fr"}}}, None)
    keys = set(TelegramFront.metadata(update))
    assert keys - set(TELEGRAM_PROFILE) - NON_PROFILE_METADATA == set()


# -- /supprimer uses the same registry -----------------------------------------------------

def test_finding_2_supprimer_erases_every_store_of_the_chat(db: Engine) -> None:
    seed(db)
    seed(db, OTHER_CHAT)
    removed = erase_chat(CHAT, str(db.url))
    assert all(removed.values()), removed
    assert what_we_hold(CHAT).items == []
    # The other chat's data is untouched (its review-log row shares the text, so it went too).
    assert what_we_hold(OTHER_CHAT).values("lead")
    with db.connect() as connection:
        events = rasa_events_table()
        assert connection.execute(select(events.c.id).where(events.c.sender_id == CHAT)).first() is None


# -- finding 14: only deep links we publish are stored ---------------------------------------

@pytest.mark.parametrize("payload", ["0696718293", "0696-71-82-93", "Zoeline_Kancel", "salon-etudiant",
                                     "quiz_0696718293", "cfa_" + "x" * 60])
def test_finding_14_unknown_start_payload_is_not_stored(sqlite_db: str, payload: str) -> None:
    assert clean_deep_link(payload) is None
    assert start_payload(payload) == "/start"  # Rasa does not get it either
    touch_chat(CHAT, language="fr", start_source=payload)
    assert chat_start_source(CHAT) is None


@pytest.mark.parametrize("payload", ["cfa_972-umih", "quiz", "orientation", "aides_salon2026", "metiers"])
def test_finding_14_published_deep_links_are_kept(sqlite_db: str, payload: str) -> None:
    assert clean_deep_link(payload) == payload
    touch_chat(CHAT, start_source=payload)
    assert chat_start_source(CHAT) == payload


def test_finding_14_every_published_prefix_opens_a_flow() -> None:
    from actions.start import DEEP_LINK_FLOWS

    assert set(DEEP_LINK_FLOWS) == set(DEEP_LINK_PREFIXES)
    assert all(recognised_source(prefix) == prefix for prefix in DEEP_LINK_PREFIXES)



def test_finding_2_privacy_and_consent_texts_state_the_default_retention_periods():
    """The periods retention applies are the ones the young person is told; an operator
    who changes them must change these texts too (README, security section)."""
    import yaml

    from akto_data.i18n import text as t
    from akto_data.settings import CONTENT_DIR, Settings

    defaults = Settings()
    faq = {row["topic"]: row["answer"] for row in yaml.safe_load((CONTENT_DIR / "faq.yml").read_text())["faq"]}
    privacy = faq["ask_privacy"]
    assert f"{defaults.conversation_retention_days} jours après ton dernier message" in privacy
    assert f"gardés {defaults.unanswered_retention_days} jours" in privacy
    assert f"{defaults.lead_retention_months} mois au plus" in privacy
    assert f"{defaults.lead_retention_months} mois au plus" in t("lead.consent.text", cfa="X")


def test_digests_and_settings_notes_are_deleted_90_days_after_they_went(db: Engine) -> None:
    """Rows about a whole CFA (its business addresses in a settings note) do not stay for ever;
    one not sent yet stays whatever its age, so nothing due is lost."""
    now = utcnow()
    with session_scope() as session:
        session.add_all([
            OutboxMessage(channel="email", kind="digest", cfa_id="mq_umih", state="sent",
                          sent_at=now - timedelta(days=91), next_attempt_at=now - timedelta(days=91)),
            OutboxMessage(channel="email", kind="settings", cfa_id="mq_umih", state="sent",
                          payload={"to": ["leads@mq-umih.example"]}, sent_at=now - timedelta(days=10),
                          next_attempt_at=now - timedelta(days=10)),
            OutboxMessage(channel="email", kind="settings", cfa_id="mq_umih", state="pending",
                          payload={"to": ["leads@mq-umih.example"]}, next_attempt_at=now - timedelta(days=200)),
        ])
    OutboxWorker(clock=lambda: now).housekeeping()
    with session_scope() as session:
        left = sorted((m.kind, m.state) for m in session.scalars(select(OutboxMessage)))
    assert left == [("settings", "pending"), ("settings", "sent")]
