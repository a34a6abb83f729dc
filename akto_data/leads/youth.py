"""The young person's side of the follow-up: the day-7 question and the offer of another CFA.

Two time-based steps, run by the worker's schedule (:func:`queue_youth_steps`):

- **Day-7 question** ("Le CFA t'a contacté ?"), ``LEAD_FOLLOWUP_DAYS`` calendar days
  after the lead reached the CFA (its first lead e-mail sent), when nothing came back
  from the CFA: no answering status, no message.
- **Offer of another CFA**, 10 working days (the CFA's territory's calendar) after the
  lead reached the CFA without any answer, or at once when AKTO paused the CFA; only
  when another CFA matches (same occupation, territory and diploma level, not paused,
  not already asked by this young person for this occupation). Decision: the best
  match alone is offered (the first of :func:`~akto_data.leads.matching.matching_cfas`),
  so the consent asked names exactly one CFA, fixed when the offer is queued (the
  outbox row's payload), whatever the catalogue does meanwhile.

Both only concern leads with a Telegram chat: the bot asks the question. Each step
marks the lead (``followup_asked_at``, ``reroute_offered_at``) with a compare-and-set
and queues its Telegram row with a unique ``dedup_key`` in the same transaction, so a
restarted worker, or two at once, never ask twice.

Cost: both steps run every minute, so each selects in SQL only the leads that can be
due (still waiting, a Telegram chat, reached the CFA long enough ago: ``followup_days``
calendar days, or 10 calendar days as a lower bound of 10 working days, or a paused
CFA), with the first-contact time in the same query (no lazy load of the outbox, no
query per lead to know whether the CFA answered). A lead with no other CFA to offer
is matched against the catalogue again at most once a day (:class:`NoOtherCfaGuard`).

The answers (buttons with payloads ``lead:<step>:<lead id>:<choice>``, handled by the
bot itself, never by Rasa) are core functions here that return the text to show:
the bot only calls :func:`press_lead_button_now` and sends what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.tables import CatCfa
from akto_data.cfa.settings import is_paused, paused_cfas
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.followup import Calendar, cfa_calendar, first_email_sent
from akto_data.leads.lifecycle import ANSWERED, CLOSED, add_working_days, apply_status
from akto_data.leads.matching import CfaMatch, chosen_match, matching_cfas
from akto_data.leads.models import Lead, LeadMessage, LeadStatusEvent, OutboxMessage
from akto_data.leads.notices import TELEGRAM_CHAT_SQL, is_telegram_chat
from akto_data.leads.store import CfaPaused, DuplicateLead, TooManyLeads, create_lead
from akto_data.models import as_utc, utcnow

log = logging.getLogger(__name__)

#: A lead with no answer this many working days after it reached the CFA is offered to another one.
REROUTE_AFTER_WORKING_DAYS = 10
#: A lead found with no other CFA to offer is matched again after this long (a CFA may join
#: the catalogue, or be resumed): at most once a day, instead of at every round of the worker.
RECHECK_NO_OTHER_CFA = timedelta(days=1)
#: Prefix of the payloads of the buttons the bot answers itself (never sent to Rasa).
BUTTON_PREFIX = "lead:"
#: Answers of the day-7 question, as stored in ``Lead.followup_answer``.
FOLLOWUP_ANSWERS = ("yes", "not_yet", "stop")
#: The lead's fields a new lead for another CFA copies (the young person's answers).
COPIED = ("chat_id", "rome", "first_name", "age", "territory", "town", "diploma_level", "start_when",
          "has_employer", "mobility", "contact_channel", "contact_value", "reasons", "message", "minor")


def reroute_consent_version() -> str:
    """Version of the consent sentence of the offer, kept beside its text in the catalogue."""
    return t("lead.reroute.consent.version")


def followup_payload(lead_id: int, answer: str) -> str:
    return f"{BUTTON_PREFIX}followup:{lead_id}:{answer}"


def reroute_payload(lead_id: int, accept: bool) -> str:
    return f"{BUTTON_PREFIX}reroute:{lead_id}:{'yes' if accept else 'no'}"


# -- when the lead reached the CFA, and whether the CFA answered -------------------------------

def cfa_answered(session: Session, lead: Lead) -> bool:
    """Whether the CFA answered: an answering status (now or ever), or a message."""
    if lead.first_answer_at is not None or lead.status in ANSWERED:
        return True
    status = session.scalar(select(LeadStatusEvent.id).where(
        LeadStatusEvent.lead_id == lead.id, LeadStatusEvent.status.in_(sorted(ANSWERED)),
        LeadStatusEvent.by == "cfa").limit(1))
    message = session.scalar(select(LeadMessage.id).where(
        LeadMessage.lead_id == lead.id, LeadMessage.direction == "cfa").limit(1))
    return status is not None or message is not None


def waiting_on_cfa(session: Session, lead: Lead) -> bool:
    """Still waiting on the CFA, and reachable in Telegram."""
    return (lead.anonymised_at is None and lead.status not in CLOSED and is_telegram_chat(lead.chat_id)
            and not cfa_answered(session, lead))


def _queue_once(session: Session, lead: Lead, column: str, row: OutboxMessage, now: datetime) -> bool:
    """Mark ``lead`` (``column`` from None to ``now``) and queue ``row``, once for all workers.

    The mark is a compare-and-set (a concurrent worker that marked it first wins, on
    PostgreSQL the second waits for the first's commit and then changes nothing); the
    row's unique ``dedup_key`` is the last guard (a savepoint keeps the rest of the run).
    """
    marked = session.execute(update(Lead).where(Lead.id == lead.id, getattr(Lead, column).is_(None))
                             .values({column: now}).execution_options(synchronize_session=False))
    if not marked.rowcount:  # type: ignore[attr-defined]
        return False
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        log.info("%s of lead %s already queued", row.kind, lead.id)
        return False
    setattr(lead, column, now)
    return True


# -- the time-based steps ----------------------------------------------------------------------

def _still_waiting() -> tuple[ColumnElement[bool], ...]:
    """SQL of :func:`waiting_on_cfa`: data kept, open, a Telegram chat, no answer from the CFA
    (no answering status now or ever, no message)."""
    cfa_status = select(LeadStatusEvent.id).where(
        LeadStatusEvent.lead_id == Lead.id, LeadStatusEvent.status.in_(sorted(ANSWERED)),
        LeadStatusEvent.by == "cfa").exists()
    cfa_message = select(LeadMessage.id).where(LeadMessage.lead_id == Lead.id, LeadMessage.direction == "cfa").exists()
    return (Lead.anonymised_at.is_(None), Lead.first_answer_at.is_(None), Lead.chat_id.is_not(None),
            Lead.chat_id.regexp_match(TELEGRAM_CHAT_SQL), Lead.status.not_in(sorted(CLOSED | ANSWERED)),
            ~cfa_status, ~cfa_message)


class NoOtherCfaGuard:
    """Leads found with no other CFA to offer, not looked at again for :data:`RECHECK_NO_OTHER_CFA`.

    Without it, every such lead (a CFA alone in its territory for an occupation) would be
    matched again against the catalogue every minute, forever. Kept in the worker's memory
    (cheap; a restarted worker looks once more, which changes nothing) and keyed by the
    lead's idempotency key, unique for ever, so a reused id never inherits another's mark.
    """

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def skip(self, lead: Lead, now: datetime) -> bool:
        until = self._until.get(lead.idempotency_key)
        return until is not None and now < until

    def mark(self, lead: Lead, now: datetime) -> None:
        self._until[lead.idempotency_key] = now + RECHECK_NO_OTHER_CFA

    def prune(self, now: datetime) -> None:
        self._until = {key: until for key, until in self._until.items() if until > now}

    def clear(self) -> None:
        self._until.clear()


#: The worker's guard (one per process).
NO_OTHER_CFA = NoOtherCfaGuard()


def queue_youth_steps(session: Session, now: datetime, followup_days: int | None = None) -> int:
    """Queue the day-7 questions and the offers of another CFA due at ``now``; how many."""
    if followup_days is None:
        from akto_data.settings import load_settings

        followup_days = load_settings().lead_followup_days
    return queue_followups(session, now, followup_days) + queue_reroutes(session, now)


def queue_followups(session: Session, now: datetime, days: int = 7) -> int:
    """Ask "Le CFA t'a contacté ?" ``days`` calendar days after the lead reached the CFA.

    One query selects exactly the leads due (reached at least ``days`` ago, still waiting,
    not asked yet): nothing is loaded, lead by lead, to be dropped.
    """
    reached = first_email_sent(("email", "webhook")).subquery()
    due = session.scalars(select(Lead).join(reached, reached.c.lead_id == Lead.id).where(
        Lead.followup_asked_at.is_(None), reached.c.sent_at <= now - timedelta(days=days), *_still_waiting())
        .order_by(Lead.id)).all()
    queued = 0
    for lead in due:
        row = OutboxMessage(lead_id=lead.id, channel="telegram", kind="followup", dedup_key=f"followup:{lead.id}",
                            next_attempt_at=now)
        queued += _queue_once(session, lead, "followup_asked_at", row, now)
    return queued


def queue_reroutes(session: Session, now: datetime) -> int:
    """Offer another CFA for the leads unanswered after 10 working days, or waiting on a paused CFA.

    SQL keeps only the leads still waiting whose CFA is paused or that reached it at least
    :data:`REROUTE_AFTER_WORKING_DAYS` *calendar* days ago (a lower bound: 10 working days
    are never fewer calendar days); the working days are then counted in the CFA's
    calendar (read once per CFA). A lead with no other CFA is looked at again only after
    :data:`RECHECK_NO_OTHER_CFA` (:class:`NoOtherCfaGuard`).
    """
    paused = paused_cfas(session)
    reached = first_email_sent(("email", "webhook")).subquery()
    due_or_paused = or_(reached.c.sent_at <= now - timedelta(days=REROUTE_AFTER_WORKING_DAYS),
                        Lead.cfa_id.in_(sorted(paused)))
    rows = session.execute(select(Lead, reached.c.sent_at).outerjoin(reached, reached.c.lead_id == Lead.id).where(
        Lead.reroute_offered_at.is_(None), due_or_paused, *_still_waiting()).order_by(Lead.id)).all()
    NO_OTHER_CFA.prune(now)
    queued = 0
    catalogue = Catalogue(session)
    calendars: dict[str, Calendar] = {}
    for lead, sent_at in rows:
        if NO_OTHER_CFA.skip(lead, now):
            continue
        if lead.cfa_id not in paused:
            calendar = cfa_calendar(session, lead.cfa_id, lead.territory, calendars)
            if add_working_days(as_utc(sent_at), REROUTE_AFTER_WORKING_DAYS, *calendar) > now:
                continue
        other = best_other_cfa(session, catalogue, lead, paused)
        if other is None:
            NO_OTHER_CFA.mark(lead, now)
            continue
        row = OutboxMessage(lead_id=lead.id, channel="telegram", kind="reroute", dedup_key=f"reroute:{lead.id}",
                            payload={"cfa_id": other.cfa_id}, next_attempt_at=now)
        queued += _queue_once(session, lead, "reroute_offered_at", row, now)
    return queued


def other_cfas(session: Session, catalogue: Catalogue, lead: Lead, paused: Iterable[str] | None = None
               ) -> list[CfaMatch]:
    """CFAs that could take this lead instead: same occupation, territory and level; not this
    CFA, not a paused one, not one this young person already asked for this occupation."""
    excluded = set(paused if paused is not None else paused_cfas(session)) | {lead.cfa_id}
    if lead.chat_id:
        excluded |= set(session.scalars(select(Lead.cfa_id).where(Lead.chat_id == lead.chat_id,
                                                                   Lead.rome == lead.rome)))
    return [m for m in matching_cfas(catalogue, lead.rome, lead.territory, lead.diploma_level)
            if m.cfa_id not in excluded]


def best_other_cfa(session: Session, catalogue: Catalogue, lead: Lead, paused: Iterable[str] | None = None
                   ) -> CfaMatch | None:
    found = other_cfas(session, catalogue, lead, paused)
    return found[0] if found else None


# -- the texts the bot sends -------------------------------------------------------------------

def cfa_name(session: Session, cfa_id: str) -> str:
    cfa = session.get(CatCfa, cfa_id)
    return cfa.name if cfa is not None else cfa_id


@dataclass(frozen=True)
class Question:
    """A message with buttons for the young person: ``buttons`` are ``(title, payload)``."""

    text: str
    buttons: tuple[tuple[str, str], ...]


def followup_question(session: Session, lead: Lead) -> Question:
    text = t("lead.followup.question", cfa=cfa_name(session, lead.cfa_id), training=lead.training)
    return Question(text, tuple((t(f"lead.followup.button.{answer}"), followup_payload(lead.id, answer))
                                for answer in FOLLOWUP_ANSWERS))


def reroute_question(session: Session, lead: Lead, other_id: str) -> Question | None:
    """The offer, with the consent sentence naming the new CFA; None when it no longer exists."""
    other = session.get(CatCfa, other_id)
    match = chosen_match(Catalogue(session), other_id, lead.rome, lead.diploma_level)
    if other is None or match is None:
        return None
    text = "\n\n".join((
        t("lead.reroute.question", cfa=cfa_name(session, lead.cfa_id), training=lead.training, other=other.name,
          town=other.town, other_training=match.diploma),
        t("lead.reroute.consent", other=other.name)))
    return Question(text, ((t("lead.reroute.button.yes", other=other.name), reroute_payload(lead.id, True)),
                           (t("lead.reroute.button.no"), reroute_payload(lead.id, False))))


# -- the answers -------------------------------------------------------------------------------

def _own_lead(session: Session, chat_id: str, lead_id: int) -> Lead | None:
    """The lead, if it is this chat's and still holds data; None otherwise (never another chat's)."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.anonymised_at is not None or lead.chat_id != chat_id:
        return None
    return lead


def answer_followup(session: Session, chat_id: str, lead_id: int, answer: str, now: datetime | None = None) -> str:
    """Record the young person's answer to the day-7 question; the text to show them.

    ``yes``: contacted (by the young person's word). ``not_yet``: the CFA gets a
    reminder naming the young person's wait. ``stop``: the lead is closed (withdrawn)
    and the CFA told. Once answered, another press changes nothing.
    """
    now = now or utcnow()
    lead = _own_lead(session, chat_id, lead_id)
    if lead is None or answer not in FOLLOWUP_ANSWERS:
        return t("lead.followup.gone")
    name = cfa_name(session, lead.cfa_id)
    if lead.followup_answer is not None:
        return t("lead.followup.already", cfa=name)
    if lead.status in CLOSED:
        return t("lead.followup.closed", cfa=name)
    marked = session.execute(update(Lead).where(Lead.id == lead.id, Lead.followup_answer.is_(None))
                             .values(followup_answer=answer).execution_options(synchronize_session=False))
    if not marked.rowcount:  # type: ignore[attr-defined]
        return t("lead.followup.already", cfa=name)
    lead.followup_answer = answer
    if answer == "yes":
        apply_status(session, lead.idempotency_key, "contacted", by="user", now=now)
        return t("lead.followup.thanks", cfa=name)
    if answer == "not_yet":
        session.add(OutboxMessage(lead_id=lead.id, channel="email", kind="nudge", next_attempt_at=now))
        return t("lead.followup.nudged", cfa=name)
    apply_status(session, lead.idempotency_key, "withdrawn", by="user", now=now)
    session.add(OutboxMessage(lead_id=lead.id, channel="email", kind="withdrawn", next_attempt_at=now))
    return t("lead.followup.withdrawn", cfa=name)


def _offer(session: Session, lead: Lead) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == f"reroute:{lead.id}"))


def answer_reroute(session: Session, chat_id: str, lead_id: int, accept: bool, now: datetime | None = None) -> str:
    """The young person's answer to the offer of another CFA; the text to show them.

    Yes: a new lead for the offered CFA (the young person's answers, the offer's consent
    version, ``rerouted_from_id``), the first lead closed as "rerouted" and its CFA told.
    No: nothing is sent; the answer is noted on the offer. Either answer counts once.
    """
    now = now or utcnow()
    lead = _own_lead(session, chat_id, lead_id)
    offer = _offer(session, lead) if lead is not None else None
    if lead is None or offer is None:
        return t("lead.reroute.gone")
    payload = dict(offer.payload or {})
    other_id = str(payload.get("cfa_id", ""))
    other = cfa_name(session, other_id)
    if payload.get("answer"):
        return t("lead.reroute.already")
    if not accept:
        offer.payload = {**payload, "answer": "no", "answered_at": now.isoformat()}
        return t("lead.reroute.declined", cfa=cfa_name(session, lead.cfa_id))
    if lead.status in CLOSED:
        return t("lead.reroute.closed")
    catalogue = Catalogue(session)
    match = chosen_match(catalogue, other_id, lead.rome, lead.diploma_level)
    if match is None or is_paused(session, other_id):
        return t("lead.reroute.unavailable", other=other)
    data = {name: getattr(lead, name) for name in COPIED}
    data.update(cfa_id=match.cfa_id, training=match.diploma, reasons=list(lead.reasons or []))
    try:
        with session.begin_nested():
            new = create_lead(data, reroute_consent_version(), match.level, session=session)
    except DuplicateLead:
        return t("lead.reroute.duplicate", other=other)
    except TooManyLeads:
        return t("lead.too_many")
    except CfaPaused:  # paused between the check above and the insert
        return t("lead.reroute.unavailable", other=other)
    new.rerouted_from_id = lead.id
    offer.payload = {**payload, "answer": "yes", "answered_at": now.isoformat(), "new_lead_id": new.id}
    apply_status(session, lead.idempotency_key, "rerouted", by="system", now=now)
    session.add(OutboxMessage(lead_id=lead.id, channel="email", kind="rerouted", next_attempt_at=now,
                              payload={"new_cfa_id": match.cfa_id}))
    return t("lead.reroute.sent", other=other)


def press_lead_button(session: Session, chat_id: str, payload: str, now: datetime | None = None) -> str:
    """What one of our lead buttons does (``lead:<step>:<lead id>:<choice>``); the text to show."""
    from akto_data.leads import relay

    parts = payload.split(":")
    if len(parts) != 4 or parts[0] + ":" != BUTTON_PREFIX or not parts[2].isdigit():
        return t("lead.followup.gone")
    step, lead_id, choice = parts[1], int(parts[2]), parts[3]
    if step == "followup":
        return answer_followup(session, chat_id, lead_id, choice, now)
    if step == "reroute" and choice in ("yes", "no"):
        return answer_reroute(session, chat_id, lead_id, choice == "yes", now)
    if step == "relay" and choice == "reply":
        return relay.start_reply(session, chat_id, lead_id, now)
    if step == "relay" and choice == "stop":
        return relay.stop_relay(session, chat_id, lead_id, now)
    return t("lead.followup.gone")


def press_lead_button_now(chat_id: str, payload: str) -> str:
    """:func:`press_lead_button` in its own unit of work (the bot's handler)."""
    with session_scope() as session:
        return press_lead_button(session, chat_id, payload)
