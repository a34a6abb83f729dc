"""The audit log: every change a person makes, with what it was before and after."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.csvsafe import safe_row
from akto_data.staff.models import AuditEvent


def record(session: Session, actor: str, action: str, entity: str, before: Any, after: Any,
           detail: str | None = None) -> AuditEvent:
    """Add one audit event to the caller's unit of work (it commits with the change itself)."""
    event = AuditEvent(actor=actor, action=action, entity=entity, before=before, after=after, detail=detail)
    session.add(event)
    return event


def events(session: Session, *, since: datetime | None = None, limit: int = 500) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query))


def export_csv(rows: list[AuditEvent]) -> str:
    """The audit log as CSV for a spreadsheet (French format: ``;``, formula-safe cells)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["date", "qui", "action", "objet", "avant", "après", "détail"])
    for row in rows:
        writer.writerow(safe_row([row.at.isoformat(timespec="seconds"), row.actor, row.action, row.entity,
                                  json.dumps(row.before, ensure_ascii=False) if row.before is not None else "",
                                  json.dumps(row.after, ensure_ascii=False) if row.after is not None else "",
                                  row.detail or ""]))
    return out.getvalue()
