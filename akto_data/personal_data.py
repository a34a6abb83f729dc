"""Every place that holds personal data about a young person, in one list.

Three things must reach all of them, and used to drift apart: ``/mes_donnees``
(show what we hold), ``/supprimer`` (erase it) and retention (delete or anonymise
it when its period is over). Each :class:`Store` below answers the three for one
place, and :data:`STORES` is the only list those features walk, so a store added
here is shown, erased and expired at once. Tests check that every table of our
model and every slot of ``domain/*.yml`` is either covered here or explicitly
declared non-personal, so a new one cannot be forgotten silently.

The stores:

- ``app_chat_profile``: first and last contact, deep-link source, Telegram language.
- ``app_button_payload``: our inline buttons (titles may hold a first name or an
  e-mail offered as a choice).
- ``app_unanswered``: messages the assistant failed on, for staff review. It has no
  chat id on purpose; a row is tied to a chat by its text, which is the chat's own
  message as stored in Rasa's events (masked the same way), so it can be shown and
  erased while the conversation exists, and its retention is kept no longer than the
  conversation's.
  With the text it keeps the conversation's territory slot (the console's inbox
  filters on it), shown beside the text and erased with it.
- ``app_lead`` with ``app_lead_status`` and ``app_outbox``: requests sent to CFAs.
  After their period they are anonymised, not deleted (territory, training and
  statuses stay for statistics); the idempotency key, which the CFA holds, is
  replaced so the row no longer points to anybody.
- ``app_takeover`` and ``app_takeover_message``: conversations with an AKTO advisor
  (requests, the young person's and the advisor's messages), kept like the conversation.
- Rasa's ``events`` table (its SQL tracker store, in the same database as ours):
  every message, every slot (the lead form's answers among them) and, in each
  event's metadata, the Telegram profile (first name, username, language).

``app_feedback`` (topic and 👍/👎, no chat id, no text) and the catalogue tables hold
no personal data (:data:`NOT_PERSONAL_TABLES`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    Column,
    CursorResult,
    Float,
    Integer,
    MetaData,
    Result,
    String,
    Table,
    Text,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import Session, object_session

from akto_data.buttons import BUTTON_TTL
from akto_data.i18n import text as t
from akto_data.leads.models import Lead, LeadMessage
from akto_data.models import ButtonPayload, ChatProfile, UnansweredMessage
from akto_data.review import unanswered_text
from akto_data.takeover.core import chat_requests, erase_chat_takeovers, expire_takeovers

# -- what counts as personal -------------------------------------------------------

#: Slots of ``domain/*.yml`` that describe the young person (shown by /mes_donnees).
PERSONAL_SLOTS: tuple[str, ...] = (
    "start_source", "territory", "age", "pay_age_band", "contract_year", "occupation", "diploma_level",
    "aid_progress", "quiz_progress",
    "lead_first_name", "lead_town", "lead_start", "lead_employer", "lead_mobility", "lead_cfa_territory",
    "lead_cfa", "lead_contact_channel", "lead_contact_value", "lead_reasons", "lead_reasons_picked",
    "lead_message",
)
#: Slots that only steer the dialogue; why each one says nothing about the person.
NON_PERSONAL_SLOTS: dict[str, str] = {
    "lead_editing": "flag: the recap is being edited",
    "lead_change": "which answer the recap is changing (a slot name)",
    "lead_consent": "yes/no of the current request, cleared when it ends; the lead row keeps the consent",
    "requested_slot": "Rasa's own: the form question being asked",
}
#: Rasa's own slot holding the metadata of the message that opened a session.
METADATA_SLOT = "session_started_metadata"
#: Keys of the message metadata the bot sends Rasa (``TelegramFront.metadata``) that
#: describe the person; Rasa keeps that metadata on every user event.
TELEGRAM_PROFILE: tuple[str, ...] = ("first_name", "username", "language")
#: Metadata keys that are not shown as profile fields: the channel name, the chat id
#: (it is the conversation's own id) and what Rasa adds itself.
NON_PROFILE_METADATA: frozenset[str] = frozenset({"channel", "chat_id", "model_id", "assistant_id"})
#: Lead columns shown to the young person (each one is what the CFA received).
LEAD_SHOWN: tuple[str, ...] = (
    "first_name", "age", "territory", "town", "diploma_level", "start_when", "has_employer", "mobility",
    "contact_channel", "contact_value", "reasons", "message",
)
#: Lead columns cleared by anonymisation (the rest stays for statistics).
LEAD_IDENTIFYING: tuple[str, ...] = ("chat_id", "first_name", "town", "contact_value", "message")
#: Lead columns that are not about the person, or are kept after anonymisation, and why.
LEAD_NOT_SHOWN: dict[str, str] = {
    "id": "row number", "idempotency_key": "replaced by a random one at anonymisation",
    "chat_id": "the conversation's own id", "cfa_id": "shown in the lead's heading",
    "rome": "the training's occupation code", "training": "shown in the lead's heading",
    "minor": "derived from the age", "consent_version": "which text was accepted",
    "consented_at": "date, shown in the heading", "score": "CFA-side rating of the request",
    "status": "shown in the heading", "created_at": "shown in the heading",
    "anonymised_at": "when anonymisation ran", "reminded_at": "when the CFA was reminded",
    "reminders_sent": "how many reminders the CFA got", "first_answer_at": "when the CFA first answered",
    "status_reason": "code of the CFA's refusal reason", "followup_asked_at": "when the day-7 question was asked",
    "followup_answer": "yes / not yet / stop: shown in the status", "reroute_offered_at": "when another CFA was offered",
    "rerouted_from_id": "row number of the lead it replaces", "relay_stopped_at": "when the CFA's messages were stopped",
    "reply_pending_at": "a reply to the CFA is being written (minutes)",
}
#: Outbox payload keys that name no one (a notice's new status, a refusal reason code); the rest is cleared.
OUTBOX_PAYLOAD_KEPT = frozenset({"status", "reason"})

#: Tables with no personal data, and why.
NOT_PERSONAL_TABLES: dict[str, str] = {
    "app_feedback": "topic and 👍/👎 only: no chat id, no text",
    "alembic_version": "schema version",
    "app_staff_account": "AKTO staff accounts: the staff member's own e-mail and name, no young person's data",
    "app_audit_event": "staff changes: ids and content only, never a young person's text or contact",
    "app_nlu_model": "retrained models: file, scores on the held-out sets, staff e-mail; no young person's text",
    "app_analytics_count": "usage counts per day or week, territory and topic: no chat id, no text, no time of day",
    "app_analytics_cursor": "last row id read from each source by the analytics aggregation",
    "app_advisor_duty": "whether an AKTO advisor is on duty: staff account id and time only",
    "app_cfa_account": "a CFA's own settings (its business addresses, webhook), and AKTO's pause: no young person",
    "app_cfa_login_link": "hashes of login links sent to CFA business addresses: no young person's data",
    "app_cfa_training_proposal": "trainings a CFA proposes for the catalogue, CFA staff e-mail: no young person",
}
#: Prefix of the catalogue tables (content staff publish: occupations, CFAs, aids...).
CATALOGUE_PREFIX = "cat_"

#: Rasa 3.6's tracker store table (``rasa.core.tracker_store.SQLTrackerStore.SQLEvent``),
#: declared apart from our metadata: Rasa creates it, our migrations never touch it.
RASA_EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class Retention:
    """How long each kind of data is kept (from the settings; see :mod:`akto_data.retention`)."""

    conversation: timedelta
    unanswered: timedelta
    leads: timedelta


@dataclass(frozen=True)
class HeldItem:
    """One thing held: a field key (its label is ``privacy.field.<key>``) and its value as shown."""

    field: str
    value: str


class Store(Protocol):
    """One place holding personal data: what it shows, erases and expires."""

    name: str
    #: Tables it covers (the registry test checks every table of ours is covered).
    tables: tuple[str, ...]
    #: Field keys it can show; each has a label ``privacy.field.<key>`` in the catalogue.
    fields: tuple[str, ...]

    def show(self, session: Session, chat_id: str) -> list[HeldItem]: ...

    def erase(self, session: Session, chat_id: str) -> int: ...

    def expire(self, session: Session, now: datetime, retention: Retention) -> int: ...


def _count(result: Result[Any]) -> int:
    """Rows a DELETE removed (``Session.execute`` is typed as returning any result)."""
    return cast(CursorResult[Any], result).rowcount or 0


def _date(moment: datetime | float | None) -> str:
    if moment is None:
        return "?"
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{moment:%d/%m/%Y}"


def _value(value: Any, limit: int = 300) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- our tables ----------------------------------------------------------------------

class ChatProfileStore:
    name = "profile"
    tables: tuple[str, ...] = ("app_chat_profile",)
    #: Field keys this store can show.
    fields: tuple[str, ...] = ("first_seen", "last_seen", "start_source", "language")

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        profile = session.get(ChatProfile, chat_id)
        if profile is None:
            return []
        items = [HeldItem("first_seen", _date(profile.first_seen)), HeldItem("last_seen", _date(profile.last_seen))]
        if profile.start_source:
            items.append(HeldItem("start_source", profile.start_source))
        if profile.language:
            items.append(HeldItem("language", profile.language))
        return items

    def erase(self, session: Session, chat_id: str) -> int:
        return _count(session.execute(delete(ChatProfile).where(ChatProfile.chat_id == chat_id)))

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        limit = now - retention.conversation
        return _count(session.execute(delete(ChatProfile).where(ChatProfile.last_seen < limit)))


class ButtonStore:
    name = "buttons"
    tables: tuple[str, ...] = ("app_button_payload",)
    fields: tuple[str, ...] = ("buttons",)

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        titles = list(session.scalars(select(ButtonPayload.title).where(ButtonPayload.chat_id == chat_id)
                                      .order_by(ButtonPayload.created_at)))
        return [HeldItem("buttons", _value(titles))] if titles else []

    def erase(self, session: Session, chat_id: str) -> int:
        return _count(session.execute(delete(ButtonPayload).where(ButtonPayload.chat_id == chat_id)))

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        limit = now - min(BUTTON_TTL, retention.conversation)
        return _count(session.execute(delete(ButtonPayload).where(ButtonPayload.created_at < limit)))


class LeadStore:
    """Leads, their status history, outbox and messages with the CFA (deleted with the lead by
    ``ON DELETE CASCADE``)."""

    name = "leads"
    tables: tuple[str, ...] = ("app_lead", "app_lead_status", "app_outbox", "app_lead_message")
    fields: tuple[str, ...] = ("lead", *(f"lead.{column}" for column in LEAD_SHOWN), "lead.exchanged")

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        items = []
        for lead in session.scalars(select(Lead).where(Lead.chat_id == chat_id).order_by(Lead.created_at)):
            items.append(HeldItem("lead", f"{lead.cfa_id} — {lead.training} — {_date(lead.created_at)} — {lead.status}"))
            for column in LEAD_SHOWN:
                value = getattr(lead, column)
                if value not in (None, "", []):
                    items.append(HeldItem(f"lead.{column}", _value(value)))
            for message in session.scalars(select(LeadMessage).where(LeadMessage.lead_id == lead.id)
                                           .order_by(LeadMessage.id)):
                who = lead.cfa_id if message.direction == "cfa" else t("privacy.you")
                items.append(HeldItem("lead.exchanged", f"{_date(message.created_at)} — {who} : {message.text}"))
        return items

    def erase(self, session: Session, chat_id: str) -> int:
        return _count(session.execute(delete(Lead).where(Lead.chat_id == chat_id)))

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        leads = session.scalars(select(Lead).where(Lead.created_at < now - retention.leads,
                                                   Lead.anonymised_at.is_(None))).all()
        for lead in leads:
            anonymise_lead(lead, now)
        return len(leads)


def anonymise_lead(lead: Lead, now: datetime) -> None:
    """Clear what identifies the person; keep territory, training and statuses for statistics.

    The idempotency key goes too: the CFA holds it next to the person's name, so
    keeping it would let anyone with the CFA's file point at the row. Pending
    deliveries are cancelled and outbox rows keep no error text or payload that could
    name someone.
    """
    for name in LEAD_IDENTIFYING:
        setattr(lead, name, None)
    lead.reasons = []
    lead.idempotency_key = f"anon-{secrets.token_hex(13)}"
    lead.anonymised_at = now
    lead.reply_pending_at = None
    session = object_session(lead)
    if session is not None:  # the messages exchanged with the CFA are the person's own words
        session.execute(delete(LeadMessage).where(LeadMessage.lead_id == lead.id))
    for message in lead.outbox:
        if message.state == "pending":
            message.state = "cancelled"
        message.last_error = None
        if message.payload:
            message.payload = {k: v for k, v in message.payload.items() if k in OUTBOX_PAYLOAD_KEPT} or None


# -- Rasa's tracker store --------------------------------------------------------------

def has_rasa_events(session: Session) -> bool:
    """Rasa creates its table on its first message; before that there is nothing to read."""
    return inspect(session.connection()).has_table(RASA_EVENTS.name)


def rasa_events(session: Session, chat_id: str) -> list[tuple[str, float | None, dict[str, Any]]]:
    """``(type, timestamp, data)`` of every stored event of the chat, oldest first."""
    if not has_rasa_events(session):
        return []
    rows = session.execute(select(RASA_EVENTS.c.type_name, RASA_EVENTS.c.timestamp, RASA_EVENTS.c.data)
                           .where(RASA_EVENTS.c.sender_id == chat_id).order_by(RASA_EVENTS.c.id))
    found = []
    for type_name, timestamp, data in rows:
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        found.append((type_name, timestamp, parsed if isinstance(parsed, dict) else {}))
    return found


def _add_distinct(values: dict[str, list[str]], key: str, value: Any) -> None:
    if value in (None, "", [], {}):
        return
    shown = _value(value)
    kept = values.setdefault(key, [])
    if shown not in kept:
        kept.append(shown)


class RasaEventStore:
    """Rasa's ``events``: messages, slot values and the Telegram profile in metadata."""

    name = "conversation"
    tables: tuple[str, ...] = ("events",)
    fields: tuple[str, ...] = ("messages", *(f"slot.{slot}" for slot in PERSONAL_SLOTS),
                               *(f"telegram.{key}" for key in TELEGRAM_PROFILE))

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        """Every value still stored, not only the current one: an earlier phone number is
        in the events too, so it is shown (most recent last)."""
        events = rasa_events(session, chat_id)
        messages = [timestamp for type_name, timestamp, _ in events if type_name == "user"]
        slots: dict[str, list[str]] = {}
        profile: dict[str, list[str]] = {}
        for type_name, _, data in events:
            # The bot's metadata (Telegram profile) rides on user events; Rasa copies it
            # into session_started and into its own slot at each new session.
            metadata = data.get("metadata") if type_name in ("user", "session_started") else None
            if type_name == "slot" and data.get("name") == METADATA_SLOT:
                metadata = data.get("value")
            elif type_name == "slot" and data.get("name") not in NON_PERSONAL_SLOTS:
                _add_distinct(slots, str(data.get("name")), data.get("value"))
            if isinstance(metadata, dict):
                for key, value in metadata.items():
                    if key not in NON_PROFILE_METADATA:
                        _add_distinct(profile, key, f"@{value}" if key == "username" and value else value)
        items = []
        if messages:
            since = _date(min(m or 0 for m in messages))
            items.append(HeldItem("messages", t("privacy.value.messages", count=len(messages), since=since)))
        ordered = [s for s in PERSONAL_SLOTS if s in slots] + sorted(s for s in slots if s not in PERSONAL_SLOTS)
        items += [HeldItem(f"slot.{slot}", " / ".join(slots[slot])) for slot in ordered]
        keys = [k for k in TELEGRAM_PROFILE if k in profile] + sorted(k for k in profile if k not in TELEGRAM_PROFILE)
        items += [HeldItem(f"telegram.{key}", " / ".join(profile[key])) for key in keys]
        return items

    def erase(self, session: Session, chat_id: str) -> int:
        if not has_rasa_events(session):
            return 0
        return _count(session.execute(delete(RASA_EVENTS).where(RASA_EVENTS.c.sender_id == chat_id)))

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        """Conversations silent for the whole period go entirely; in the others, events
        older than the period go too, except those Rasa still reads.

        Rasa rebuilds a tracker from the events since the chat's latest
        ``session_started`` (and counts them to know what to append), so only events
        before that are removed from a live conversation. Slots carried over to a new
        session are re-set at its start, so what the person told us stays available to
        the dialogue while they keep talking.
        """
        if not has_rasa_events(session):
            return 0
        events = RASA_EVENTS
        cutoff = (now - retention.conversation).timestamp()
        silent = select(events.c.sender_id).group_by(events.c.sender_id).having(func.max(events.c.timestamp) < cutoff)
        removed = _count(session.execute(delete(events).where(events.c.sender_id.in_(silent))))
        later = events.alias("later")
        current_session = (select(func.max(later.c.timestamp))
                           .where(later.c.sender_id == events.c.sender_id, later.c.type_name == "session_started")
                           .scalar_subquery())
        removed += _count(session.execute(
            delete(events).where(events.c.timestamp < cutoff, events.c.timestamp < current_session)))
        return removed


class UnansweredStore:
    """The staff review log, tied to a chat through the chat's own messages in Rasa's events.

    It is erased before :class:`RasaEventStore` (:data:`ERASE_ORDER`): erasing it reads
    the events that the conversation store then deletes.
    """

    name = "unanswered"
    tables: tuple[str, ...] = ("app_unanswered",)
    fields: tuple[str, ...] = ("unanswered",)

    @staticmethod
    def _texts(session: Session, chat_id: str) -> set[str]:
        return {unanswered_text(str(data.get("text"))) for type_name, _, data in rasa_events(session, chat_id)
                if type_name == "user" and data.get("text")}

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        texts = self._texts(session, chat_id)
        if not texts:
            return []
        rows = list(session.execute(select(UnansweredMessage.text, UnansweredMessage.territory)
                                    .where(UnansweredMessage.text.in_(texts))))
        shown = [f"« {text} »" + (f" ({territory})" if territory else "") for text, territory in rows]
        return [HeldItem("unanswered", _value(shown))] if rows else []

    def erase(self, session: Session, chat_id: str) -> int:
        texts = self._texts(session, chat_id)
        if not texts:
            return 0
        return _count(session.execute(delete(UnansweredMessage).where(UnansweredMessage.text.in_(texts))))

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        limit = now - retention.unanswered
        return _count(session.execute(delete(UnansweredMessage).where(UnansweredMessage.created_at < limit)))


class TakeoverStore:
    """Conversations with an AKTO advisor (:mod:`akto_data.takeover`): the requests and every
    message either way. Kept as long as the conversation, counted from the last message."""

    name = "takeover"
    tables: tuple[str, ...] = ("app_takeover", "app_takeover_message")
    fields: tuple[str, ...] = ("takeover",)

    def show(self, session: Session, chat_id: str) -> list[HeldItem]:
        requests = list(chat_requests(session, chat_id))
        if not requests:
            return []
        messages = sum(len(request.messages) for request in requests)
        return [HeldItem("takeover", t("privacy.value.takeover", count=len(requests), messages=messages,
                                       since=_date(requests[0].requested_at)))]

    def erase(self, session: Session, chat_id: str) -> int:
        return erase_chat_takeovers(session, chat_id)

    def expire(self, session: Session, now: datetime, retention: Retention) -> int:
        return expire_takeovers(session, now - retention.conversation)


#: Every store of personal data, in the order they are shown and erased.
STORES: tuple[Store, ...] = (ChatProfileStore(), RasaEventStore(), UnansweredStore(), ButtonStore(), LeadStore(),
                             TakeoverStore())
#: Erasure order: the review log is matched through the events, so it goes before them.
ERASE_ORDER: tuple[Store, ...] = tuple(sorted(STORES, key=lambda store: store.name != "unanswered"))


def personal_fields() -> tuple[str, ...]:
    """Every field key any store can show (each has a label ``privacy.field.<key>``)."""
    return tuple(key for store in STORES for key in store.fields)


def personal_tables() -> set[str]:
    return {table for store in STORES for table in store.tables}


def show_all(session: Session, chat_id: str) -> list[HeldItem]:
    return [item for store in STORES for item in store.show(session, chat_id)]


def erase_all(session: Session, chat_id: str) -> dict[str, int]:
    return {store.name: store.erase(session, chat_id) for store in ERASE_ORDER}


def expire_all(session: Session, now: datetime, retention: Retention,
               stores: Iterable[Store] = STORES) -> dict[str, int]:
    return {store.name: store.expire(session, now, retention) for store in stores}

