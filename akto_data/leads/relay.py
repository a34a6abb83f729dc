"""Short messages between a CFA (portal) and the young person (Telegram), relayed by the bot.

The CFA writes in its portal (:func:`post_cfa_message`): plain text, 500 characters
at most, only while the young person can be reached (a Telegram chat, the lead neither
closed nor anonymised, the relay not stopped), and within two caps, since the young
person may be a minor: at most :data:`MAX_UNANSWERED` messages in a row without a reply
and :data:`MAX_PER_DAY` per lead in 24 hours. A message counts as the CFA's answer
(:attr:`Lead.first_answer_at`).

The bot sends it (:func:`claim_relay` / :func:`record_relay`, the same claim / lease /
record loop and the same back-off and give-up rules as the outbox: a blocked bot is a
permanent failure, shown as failed in the portal, never retried) with two buttons:
"Répondre" (:func:`start_reply`: the chat's next text message, within
:data:`REPLY_WINDOW`, goes to the CFA, :func:`route_reply`) and "Ne plus recevoir ses
messages" (:func:`stop_relay`).

How the young person stops a CFA's messages (decision): the "Ne plus recevoir ses
messages" button, under every relayed message, stops them at any time, and each
relayed message says so in one sentence. ``/annuler`` also stops them, but only while
a reply to the CFA is being written (after "Répondre"): at any other moment a bare
``/annuler`` keeps its meaning for the assistant (leave the form in progress), and
reading it as "stop the CFA" there would take that away.

Why a send failed is recorded as a stable prefix of ``last_error`` (:data:`BLOCKED`,
:data:`CHAT_GONE` set by the bot from Telegram's error type; :data:`STOPPED`,
:data:`UNREACHABLE` set here), and :func:`failure_text` reads only these prefixes:
never a number that happens to appear in an error's text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import CLOSED
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.notices import is_telegram_chat
from akto_data.leads.outbox import FAILED, PENDING, SENDING, SendFailed, record_failure, record_success
from akto_data.models import as_utc, utcnow

log = logging.getLogger(__name__)

#: Longest message a CFA may send (Telegram's limit is far above; a short note is the point).
MAX_LENGTH = 500
#: Longest reply the young person may send to the CFA.
MAX_REPLY_LENGTH = 1000
#: How long after "Répondre" the chat's next message still goes to the CFA.
REPLY_WINDOW = timedelta(minutes=30)
#: How long a claimed message is reserved for the bot that claimed it.
LEASE = timedelta(minutes=2)
#: State of the young person's replies.
RECEIVED = "received"
#: At most this many CFA messages in a row without a reply from the young person (who may
#: be a minor): the CFA waits for an answer instead of insisting.
MAX_UNANSWERED = 3
#: At most this many CFA messages per lead in 24 hours, replies or not: a flood of
#: notifications on a young person's phone is pressure, not help.
MAX_PER_DAY = 10

#: ``last_error`` prefixes of a failed CFA message (the rest of the text is detail for the staff).
#: The young person blocked the bot (Telegram's 403 Forbidden), set by the bot.
BLOCKED = "telegram:blocked"
#: The chat no longer exists or refuses the message (Telegram's 400 Bad Request), set by the bot.
CHAT_GONE = "telegram:chat_gone"
#: The young person stopped the CFA's messages after it was written.
STOPPED = "relay:stopped"
#: The lead can no longer be written to (data erased, no Telegram chat) after it was written.
UNREACHABLE = "relay:unreachable"


class RelayRefused(Exception):
    """The CFA's message cannot be relayed; ``key`` is the catalogue text saying why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    @property
    def text(self) -> str:
        return t(self.key, **self.values)


# -- the portal ------------------------------------------------------------------------------

def cfa_lead(session: Session, cfa_id: str, lead_id: int) -> Lead | None:
    """The lead if it is this CFA's and still holds data (another CFA's lead, or an anonymised
    one, is as unknown as a missing one: the lead page answers 404 for those too)."""
    lead = session.get(Lead, lead_id)
    return lead if lead is not None and lead.cfa_id == cfa_id and lead.anonymised_at is None else None


def closed_reason(lead: Lead) -> str | None:
    """Catalogue key of why nothing can be relayed to this young person, or None when it can."""
    if lead.anonymised_at is not None:
        return "lead.relay.refused.anonymised"
    if lead.relay_stopped_at is not None:
        return "lead.relay.refused.stopped"
    if lead.status in CLOSED:
        return "lead.relay.refused.closed"
    if not is_telegram_chat(lead.chat_id):
        return "lead.relay.refused.no_chat"
    return None


@dataclass(frozen=True)
class ThreadMessage:
    direction: str  # cfa | young
    text: str
    state: str  # pending | sending | sent | failed | received
    at: datetime
    sent_at: datetime | None
    #: Why it failed, in words for the CFA (never the raw Telegram error).
    failure: str | None


@dataclass(frozen=True)
class Thread:
    lead_id: int
    messages: list[ThreadMessage]
    #: Catalogue key of why the CFA cannot write (None: the form is open).
    closed: str | None
    stopped_at: datetime | None

    @property
    def closed_text(self) -> str | None:
        return t(self.closed) if self.closed else None


def failure_text(last_error: str | None) -> str:
    """A failed message's reason for the CFA, read from the stable prefix of ``last_error``
    (:data:`BLOCKED`, :data:`CHAT_GONE`, :data:`STOPPED`); anything else is "not delivered"."""
    error = last_error or ""
    if error.startswith(BLOCKED):
        return t("lead.relay.failure.blocked")
    if error.startswith(CHAT_GONE):
        return t("lead.relay.failure.gone")
    if error.startswith(STOPPED):
        return t("lead.relay.failure.stopped")
    return t("lead.relay.failure.other")


def thread(session: Session, cfa_id: str, lead_id: int) -> Thread | None:
    """The messages of a lead, oldest first, for its CFA; None for another CFA's or a missing lead."""
    lead = cfa_lead(session, cfa_id, lead_id)
    if lead is None:
        return None
    rows = session.scalars(select(LeadMessage).where(LeadMessage.lead_id == lead.id).order_by(LeadMessage.id))
    messages = [ThreadMessage(m.direction, m.text, m.state, as_utc(m.created_at),
                              as_utc(m.sent_at) if m.sent_at else None,
                              failure_text(m.last_error) if m.state == FAILED else None) for m in rows]
    return Thread(lead.id, messages, closed_reason(lead),
                  as_utc(lead.relay_stopped_at) if lead.relay_stopped_at else None)


def post_cfa_message(session: Session, cfa_id: str, lead_id: int, text: str, now: datetime | None = None
                     ) -> LeadMessage:
    """Queue the CFA's message for the bot; :class:`RelayRefused` says why not.

    Raises :class:`LookupError` for a lead that is not this CFA's (the page answers 404).
    """
    now = now or utcnow()
    lead = cfa_lead(session, cfa_id, lead_id)
    if lead is None:
        raise LookupError(lead_id)
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise RelayRefused("lead.relay.refused.empty")
    if len(text) > MAX_LENGTH:
        raise RelayRefused("lead.relay.refused.too_long", limit=MAX_LENGTH, length=len(text))
    reason = closed_reason(lead)
    if reason:
        raise RelayRefused(reason)
    _check_caps(session, lead, now)
    message = LeadMessage(lead_id=lead.id, direction="cfa", text=text, state=PENDING, created_at=now,
                          next_attempt_at=now)
    session.add(message)
    if lead.first_answer_at is None:
        lead.first_answer_at = now
    session.flush()
    return message


def _check_caps(session: Session, lead: Lead, now: datetime) -> None:
    """Refuse a message beyond :data:`MAX_UNANSWERED` in a row or :data:`MAX_PER_DAY` in 24 hours.

    Messages that failed (never reached the young person) do not count.
    """
    last_reply = session.scalar(select(func.max(LeadMessage.id)).where(
        LeadMessage.lead_id == lead.id, LeadMessage.direction == "young"))
    sent_by_cfa = (LeadMessage.lead_id == lead.id, LeadMessage.direction == "cfa", LeadMessage.state != FAILED)
    in_a_row = session.scalar(select(func.count(LeadMessage.id)).where(
        *sent_by_cfa, LeadMessage.id > (last_reply or 0))) or 0
    if in_a_row >= MAX_UNANSWERED:
        raise RelayRefused("lead.relay.refused.unanswered", limit=MAX_UNANSWERED)
    today = session.scalar(select(func.count(LeadMessage.id)).where(
        *sent_by_cfa, LeadMessage.created_at > now - timedelta(days=1))) or 0
    if today >= MAX_PER_DAY:
        raise RelayRefused("lead.relay.refused.daily", limit=MAX_PER_DAY)


# -- the bot: sending the CFA's messages ---------------------------------------------------------

@dataclass(frozen=True)
class Relayed:
    """A CFA message to send now: text, and the buttons ``(title, payload)`` under it."""

    message_id: int
    chat_id: str
    text: str
    buttons: tuple[tuple[str, str], ...]


def _cfa_name(session: Session, cfa_id: str) -> str:
    cfa = session.get(CatCfa, cfa_id)
    return cfa.name if cfa is not None else cfa_id


def claim_relay(session: Session, now: datetime, limit: int = 20) -> list[Relayed]:
    """Due CFA messages, reserved for the caller (lease); those that can no longer go are failed."""
    rows = session.scalars(select(LeadMessage).where(
        LeadMessage.direction == "cfa", LeadMessage.state.in_((PENDING, SENDING)), LeadMessage.next_attempt_at <= now)
        .order_by(LeadMessage.id).limit(limit)).all()
    claimed = []
    for row in rows:
        lead = session.get(Lead, row.lead_id)
        reason = closed_reason(lead) if lead is not None else "lead.relay.refused.anonymised"
        if reason is not None and reason != "lead.relay.refused.closed":
            # The young person stopped the messages (or the data went) after it was written.
            row.state, row.next_attempt_at = FAILED, now
            row.last_error = STOPPED if reason == "lead.relay.refused.stopped" else UNREACHABLE
            continue
        taken = session.execute(update(LeadMessage).where(
            LeadMessage.id == row.id, LeadMessage.state.in_((PENDING, SENDING)), LeadMessage.next_attempt_at <= now)
            .values(state=SENDING, next_attempt_at=now + LEASE).execution_options(synchronize_session=False))
        if not taken.rowcount or lead is None:  # type: ignore[attr-defined]
            continue
        cfa = _cfa_name(session, lead.cfa_id)
        stop = t("lead.relay.button.stop")
        claimed.append(Relayed(row.id, str(lead.chat_id), t("lead.relay.message", cfa=cfa, text=row.text, stop=stop), (
            (t("lead.relay.button.reply"), f"lead:relay:{lead.id}:reply"), (stop, f"lead:relay:{lead.id}:stop"))))
    return claimed


def record_relay(session: Session, message_id: int, now: datetime, failure: SendFailed | None) -> None:
    """The result of one send, with the outbox's rules; nothing if the message went meanwhile."""
    message = session.get(LeadMessage, message_id)
    if message is None or message.state != SENDING:
        return
    # A LeadMessage has the outbox row's retry fields (attempts, state, next_attempt_at, last_error, sent_at).
    row = cast(OutboxMessage, message)
    if failure is None:
        record_success(row, True, now)
        return
    record_failure(row, failure, now)
    log.log(logging.ERROR if message.state == FAILED else logging.WARNING,
            "CFA message %s (lead %s) not delivered (attempt %d, %s): %s", message.id, message.lead_id,
            message.attempts, "will retry" if message.state == PENDING else "given up", message.last_error)


def claim_relay_now(now: datetime, limit: int = 20) -> list[Relayed]:
    with session_scope() as session:
        return claim_relay(session, now, limit)


def record_relay_now(message_id: int, now: datetime, failure: SendFailed | None) -> None:
    with session_scope() as session:
        record_relay(session, message_id, now, failure)


# -- the bot: the young person's side ------------------------------------------------------------

def _own_lead(session: Session, chat_id: str, lead_id: int) -> Lead | None:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.anonymised_at is not None or lead.chat_id != chat_id:
        return None
    return lead


def start_reply(session: Session, chat_id: str, lead_id: int, now: datetime | None = None) -> str:
    """"Répondre": the chat's next message goes to this lead's CFA (one lead at a time)."""
    now = now or utcnow()
    lead = _own_lead(session, chat_id, lead_id)
    if lead is None:
        return t("lead.relay.gone")
    cfa = _cfa_name(session, lead.cfa_id)
    if lead.relay_stopped_at is not None:
        return t("lead.relay.reply_stopped", cfa=cfa)
    session.execute(update(Lead).where(Lead.chat_id == chat_id, Lead.id != lead.id, Lead.reply_pending_at.is_not(None))
                    .values(reply_pending_at=None).execution_options(synchronize_session=False))
    lead.reply_pending_at = now
    return t("lead.relay.write_reply", cfa=cfa)


def stop_relay(session: Session, chat_id: str, lead_id: int, now: datetime | None = None) -> str:
    """"Ne plus recevoir ses messages": the CFA can no longer write; a reply awaited is dropped."""
    now = now or utcnow()
    lead = _own_lead(session, chat_id, lead_id)
    if lead is None:
        return t("lead.relay.gone")
    cfa = _cfa_name(session, lead.cfa_id)
    lead.reply_pending_at = None
    if lead.relay_stopped_at is None:
        lead.relay_stopped_at = now
    return t("lead.relay.stopped", cfa=cfa)


def pending_reply(session: Session, chat_id: str, now: datetime) -> Lead | None:
    """The lead whose CFA awaits this chat's reply (within :data:`REPLY_WINDOW`); older marks are dropped."""
    leads = session.scalars(select(Lead).where(Lead.chat_id == chat_id, Lead.reply_pending_at.is_not(None))
                            .order_by(Lead.reply_pending_at.desc())).all()
    found = None
    for lead in leads:
        pending = as_utc(lead.reply_pending_at) if lead.reply_pending_at else None
        if found is None and pending is not None and pending >= now - REPLY_WINDOW and lead.anonymised_at is None:
            found = lead
        else:
            lead.reply_pending_at = None
    return found


def route_reply(session: Session, chat_id: str, text: str | None, command: str | None,
                now: datetime | None = None) -> str | None:
    """Route a message of a chat that pressed "Répondre": the text to answer, or None (not ours).

    Text goes to the CFA (a :class:`LeadMessage` ``received``, an e-mail ``reply`` queued);
    ``/annuler`` cancels the reply and stops the CFA's messages; other commands,
    buttons and anything after :data:`REPLY_WINDOW` go on to the assistant.
    """
    now = now or utcnow()
    if command is None and text is None:
        return None
    lead = pending_reply(session, chat_id, now)
    if lead is None:
        return None
    cfa = _cfa_name(session, lead.cfa_id)
    if command is not None:
        if command != "annuler":
            return None
        lead.reply_pending_at = None
        lead.relay_stopped_at = lead.relay_stopped_at or now
        return t("lead.relay.cancelled", cfa=cfa)
    body = (text or "").strip()
    if not body:
        return None
    if len(body) > MAX_REPLY_LENGTH:
        return t("lead.relay.reply_too_long", limit=MAX_REPLY_LENGTH, length=len(body))
    reply = LeadMessage(lead_id=lead.id, direction="young", text=body, state=RECEIVED, created_at=now,
                        next_attempt_at=now, sent_at=now)
    session.add(reply)
    lead.reply_pending_at = None
    session.flush()  # the e-mail quotes this reply, not whichever is the latest when it goes
    session.add(OutboxMessage(lead_id=lead.id, channel="email", kind="reply", next_attempt_at=now,
                              payload={"message_id": reply.id}))
    return t("lead.relay.reply_sent", cfa=cfa)


def route_reply_now(chat_id: str, text: str | None, command: str | None) -> str | None:
    """:func:`route_reply` in its own unit of work (the bot's handler)."""
    with session_scope() as session:
        return route_reply(session, chat_id, text, command)

