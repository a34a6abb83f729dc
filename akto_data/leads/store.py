"""Creating leads: qualification score, duplicates within 7 days, daily cap per user.

Score rules (0-100, documented for CFAs; each rule adds its points):
- age fits apprenticeship (16-29): 20
- current diploma level fits the training (not more than one level above it): 15
- employer already found: 25
- start wanted soon (as soon as possible, or the next school year): 15
- open to mobility: 10
- contact reachable (phone or e-mail given): 15
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.db import ensure_schema, session_scope
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.models import utcnow

DUPLICATE_WINDOW = timedelta(days=7)
MAX_LEADS_PER_DAY = 5
#: Start answers (lead form codes) that count as soon.
SOON = {"now", "rentree"}


class DuplicateLead(Exception):
    """The same person already asked the same CFA for the same training in the last 7 days."""


class TooManyLeads(Exception):
    """More than :data:`MAX_LEADS_PER_DAY` leads today from this user."""


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


def create_lead(data: dict[str, Any], consent_version: str, training_level: int | None = None) -> Lead:
    """Store a consented lead and queue its delivery, in one transaction."""
    ensure_schema()
    now = utcnow()
    with session_scope() as session:
        chat_id = data.get("chat_id")
        if chat_id:
            duplicate = session.scalar(select(func.count(Lead.id)).where(
                Lead.chat_id == chat_id, Lead.cfa_id == data["cfa_id"], Lead.rome == data["rome"],
                Lead.created_at >= now - DUPLICATE_WINDOW))
            if duplicate:
                raise DuplicateLead(data["cfa_id"])
            today = session.scalar(select(func.count(Lead.id)).where(
                Lead.chat_id == chat_id, Lead.created_at >= now - timedelta(days=1)))
            if today >= MAX_LEADS_PER_DAY:
                raise TooManyLeads(chat_id)
        key = hashlib.sha256(f"{chat_id}|{data['cfa_id']}|{data['rome']}|{now.isoformat()}".encode()).hexdigest()[:32]
        lead = Lead(idempotency_key=key, consent_version=consent_version, consented_at=now,
                    score=qualification_score(data, training_level), created_at=now, **data)
        lead.outbox.append(OutboxMessage(channel="email", next_attempt_at=now))
        delivery = session.get(CatCfaDelivery, data["cfa_id"])
        if delivery is not None and delivery.webhook_url:
            lead.outbox.append(OutboxMessage(channel="webhook", next_attempt_at=now))
        session.add(lead)
        session.flush()
        session.add(LeadStatusEvent(lead_id=lead.id, status="new", by="system", at=now))
        return lead
