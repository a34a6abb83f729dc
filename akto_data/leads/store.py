"""Creating leads: qualification score, duplicates within 7 days, daily cap per user.

Score rules (0-100, documented for CFAs; each rule adds its points):
- age fits apprenticeship (16-29): 20
- current diploma level fits the training (not more than one level above it): 15
- employer already found: 25
- start wanted soon (as soon as possible, or the next school year): 15
- open to mobility: 10
- contact reachable (phone or e-mail given): 15

Every text goes into the database bounded to its column (lengths read from the
SQLAlchemy model, so they are written once): PostgreSQL refuses a value longer
than a ``VARCHAR(n)`` and the whole lead would be lost for one over-long answer
(SQLite would keep it, so the bug hid in development).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from akto_data.cfa.settings import delivery_for, is_paused
from akto_data.db import session_scope
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.models import Base, utcnow

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(days=7)
MAX_LEADS_PER_DAY = 5
#: Start answers (lead form codes) that count as soon.
SOON = {"now", "rentree"}


class DuplicateLead(Exception):
    """The same person already asked the same CFA for the same training in the last 7 days."""


class TooManyLeads(Exception):
    """More than :data:`MAX_LEADS_PER_DAY` leads today from this user."""


class CfaPaused(Exception):
    """AKTO staff paused this CFA: no new lead may reach it (the young person chooses another)."""


def qualification_score(data: dict[str, Any], training_level: int | None) -> int:
    score = 0
    age = data.get("age")
    if age is not None and 16 <= age <= 29:
        score += 20
    level = data.get("diploma_level")
    if level is not None and training_level is not None and level <= training_level + 1:
        score += 15
    if data.get("has_employer"):
        score += 25
    if str(data.get("start_when") or "").lower() in SOON:
        score += 15
    if data.get("mobility") not in (None, "", "none"):
        score += 10
    if data.get("contact_channel") in ("phone", "email") and data.get("contact_value"):
        score += 15
    return score


def column_lengths(model: type[Base]) -> dict[str, int]:
    """Maximum length of each bounded text column of ``model`` (``String(n)``; ``Text`` has none)."""
    return {
        column.key: column.type.length
        for column in model.__table__.columns
        if isinstance(column.type, String) and column.type.length
    }


def bounded(data: dict[str, Any], model: type[Base] = Lead) -> dict[str, Any]:
    """``data`` with every text cut to its column's length.

    Only the names of the fields cut are logged, never their values (personal data).
    A cut e-mail or phone number is no longer a valid one, but nothing valid is that
    long (an address has at most 254 characters); the CFA still has the lead and the
    young person still hears back on Telegram.
    """
    limits = column_lengths(model)
    result = dict(data)
    cut = []
    for name, value in data.items():
        limit = limits.get(name)
        if limit and isinstance(value, str) and len(value) > limit:
            result[name] = value[:limit]
            cut.append(name)
    if cut:
        log.warning("lead fields cut to their column length: %s", ", ".join(sorted(cut)))
    return result


def create_lead(data: dict[str, Any], consent_version: str, training_level: int | None = None,
                session: Session | None = None) -> Lead:
    """Store a consented lead and queue its delivery, in one transaction.

    ``session`` is the caller's unit of work (committed by it); without one, a
    transaction of its own is opened. The schema is migrated by the launchers at
    start, never here.
    """
    if session is None:
        with session_scope() as own:
            return create_lead(data, consent_version, training_level, own)
    now = utcnow()
    data = bounded(data)
    if is_paused(session, data["cfa_id"]):
        raise CfaPaused(data["cfa_id"])
    chat_id = data.get("chat_id")
    if chat_id:
        duplicate = session.scalar(select(func.count(Lead.id)).where(
            Lead.chat_id == chat_id, Lead.cfa_id == data["cfa_id"], Lead.rome == data["rome"],
            Lead.created_at >= now - DUPLICATE_WINDOW))
        if duplicate:
            raise DuplicateLead(data["cfa_id"])
        today = session.scalar(select(func.count(Lead.id)).where(
            Lead.chat_id == chat_id, Lead.created_at >= now - timedelta(days=1)))
        if (today or 0) >= MAX_LEADS_PER_DAY:
            raise TooManyLeads(chat_id)
    key = hashlib.sha256(f"{chat_id}|{data['cfa_id']}|{data['rome']}|{now.isoformat()}".encode()).hexdigest()[:32]
    lead = Lead(idempotency_key=key, consent_version=consent_version, consented_at=now,
                score=qualification_score(data, training_level), created_at=now, **data)
    lead.outbox.append(OutboxMessage(channel="email", next_attempt_at=now))
    delivery = delivery_for(session, data["cfa_id"], now)  # the portal's settings win over the file's
    if delivery is not None and delivery.webhook_url:
        lead.outbox.append(OutboxMessage(channel="webhook", next_attempt_at=now))
    session.add(lead)
    session.flush()
    session.add(LeadStatusEvent(lead_id=lead.id, status="new", by="system", at=now))
    return lead
