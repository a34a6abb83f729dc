"""What happens to a lead after it is sent: CFA status updates, the young person's
notices, the one reminder to a CFA that has not opened it, and anonymisation.

Every change is written with the outbox message it causes in the same transaction,
so a notice or a reminder is never lost nor sent for a change that did not happen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from akto_data.db import session_scope
from akto_data.leads.links import CFA_STATUSES
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.models import utcnow
from akto_data.retention import anonymise_expired_leads

#: A CFA that has not opened a lead after this many working days gets one reminder.
REMINDER_AFTER_WORKING_DAYS = 2
#: Statuses that mean the CFA has opened the lead.
OPENED = set(CFA_STATUSES)


def apply_status(lead_key: str, status: str, by: str = "cfa", now: datetime | None = None) -> bool:
    """Record ``status`` for the lead; queue a Telegram notice to its author.

    Returns False when nothing changed (unknown lead, same status again, or "read"
    after the lead was already opened), so a CFA clicking twice sends one notice.
    """
    if status not in CFA_STATUSES:
        raise ValueError(status)
    now = now or utcnow()
    with session_scope() as session:
        lead = session.scalars(select(Lead).where(Lead.idempotency_key == lead_key).with_for_update()).first()
        if lead is None or lead.anonymised_at is not None or lead.status == status:
            return False
        if status == "read" and lead.status in OPENED:
            return False
        lead.status = status
        session.add(LeadStatusEvent(lead_id=lead.id, status=status, by=by, at=now))
        if lead.chat_id:
            session.add(OutboxMessage(lead_id=lead.id, channel="telegram", kind="notice", payload={"status": status},
                                      next_attempt_at=now))
        return True


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Monday-Friday; public holidays not counted)."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def queue_reminders(now: datetime | None = None) -> int:
    """Queue one reminder e-mail per lead sent 2 working days ago and still not opened."""
    now = now or utcnow()
    queued = 0
    with session_scope() as session:
        candidates = session.scalars(select(Lead).where(
            Lead.status == "sent", Lead.reminded_at.is_(None), Lead.anonymised_at.is_(None))).all()
        for lead in candidates:
            sent_at = max((m.sent_at for m in lead.outbox if m.kind == "lead" and m.sent_at), default=None)
            if sent_at is None or add_working_days(_aware(sent_at), REMINDER_AFTER_WORKING_DAYS) > now:
                continue
            lead.reminded_at = now
            lead.outbox.append(OutboxMessage(channel="email", kind="reminder", next_attempt_at=now))
            queued += 1
    return queued


def anonymise_expired(months: int, now: datetime | None = None) -> int:
    """Kept for callers of the old name: anonymisation now lives with the rest of the
    retention in :mod:`akto_data.retention` (it also replaces the lead's key)."""
    with session_scope() as session:
        return anonymise_expired_leads(session, months, now or utcnow())


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
