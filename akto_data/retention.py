"""Retention: personal data is deleted or anonymised when its period is over, everywhere.

Run by the outbox worker between sends (:meth:`akto_data.leads.delivery.OutboxWorker.housekeeping`),
over every store of :data:`akto_data.personal_data.STORES`. The periods come from the
settings and are the ones the young person is told (consent text, /mes_donnees):

- ``CONVERSATION_RETENTION_DAYS`` (180): the conversation in Rasa's tracker store,
  the chat profile and the buttons, counted from the chat's last message; in a
  conversation still going on, its messages older than that go too (buttons go after
  30 days anyway).
- ``UNANSWERED_RETENTION_DAYS`` (90): messages the assistant failed on, kept for staff
  review. Keep it at most the conversation's period, so a row can always be tied to
  its chat for /mes_donnees and /supprimer while it exists.
- ``LEAD_RETENTION_MONTHS`` (24, months of 30 days, so never more than 24 calendar
  months, as the consent text says): leads are anonymised (first name, commune,
  contact, message, reasons, chat id and the key the CFA holds).

Outbox rows about a whole CFA rather than a lead (weekly digests, "your settings
changed" notes, which hold the CFA's business addresses) are deleted
:data:`CFA_NOTES_KEPT` after they were sent or given up: nothing needs them after that.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.orm import Session

from akto_data.db import session_scope
from akto_data.leads.models import OutboxMessage
from akto_data.leads.outbox import CANCELLED, FAILED, SENT, SKIPPED
from akto_data.models import utcnow
from akto_data.personal_data import LeadStore, Retention, expire_all
from akto_data.settings import Settings, load_settings

log = logging.getLogger(__name__)

#: How long a finished outbox row without a lead (digest, settings note) is kept.
CFA_NOTES_KEPT = timedelta(days=90)


def retention_from(settings: Settings) -> Retention:
    return Retention(conversation=timedelta(days=settings.conversation_retention_days),
                     unanswered=timedelta(days=settings.unanswered_retention_days),
                     leads=timedelta(days=30 * settings.lead_retention_months))


def expire(session: Session, now: datetime, retention: Retention) -> dict[str, int]:
    """Delete or anonymise, in ``session``, everything older than its period; counts per store."""
    return expire_all(session, now, retention)


def apply_retention(now: datetime | None = None, settings: Settings | None = None,
                    session: Session | None = None) -> dict[str, int]:
    """One retention pass over every store (the worker's entry point), in ``session``
    (the caller's unit of work) or, without one, in a transaction of its own."""
    now = now or utcnow()
    if session is None:
        with session_scope() as own:
            return apply_retention(now, settings, own)
    removed = expire(session, now, retention_from(settings or load_settings()))
    removed["cfa_notes"] = purge_cfa_notes(session, now)
    if any(removed.values()):
        log.info("retention: %s", ", ".join(f"{name} {count}" for name, count in removed.items()))
    return removed


def anonymise_expired_leads(session: Session, months: int, now: datetime) -> int:
    """Anonymise leads older than ``months`` (30-day months); return how many."""
    period = timedelta(days=30 * months)
    return LeadStore().expire(session, now, Retention(conversation=period, unanswered=period, leads=period))


def purge_cfa_notes(session: Session, now: datetime) -> int:
    """Delete finished outbox rows that belong to no lead (digests, settings notes), older than
    :data:`CFA_NOTES_KEPT`; pending ones stay, whatever their age, until sent or given up."""
    result = session.execute(delete(OutboxMessage).where(
        OutboxMessage.lead_id.is_(None), OutboxMessage.state.in_((SENT, SKIPPED, FAILED, CANCELLED)),
        func.coalesce(OutboxMessage.sent_at, OutboxMessage.next_attempt_at) < now - CFA_NOTES_KEPT))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
