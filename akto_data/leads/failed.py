"""``python -m akto_data.leads.failed``: deliveries given up, for AKTO staff.

Lists outbox rows in state ``failed`` (a receiver refused for good, or 48 hours of
retries ran out) with the CFA, the channel, the attempts and the cleaned error; no
personal data (no name, contact or chat). After fixing the cause (a CFA's address
in ``content/private/cfa_delivery.yml``, the SMTP settings…), ``--retry ID`` (or
``--retry all``) puts rows back in the queue.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.models import Lead, OutboxMessage
from akto_data.leads.outbox import FAILED, PENDING
from akto_data.models import utcnow


@dataclass(frozen=True)
class FailedDelivery:
    outbox_id: int
    lead_id: int | None  # None: a message about a whole CFA (the weekly digest)
    cfa_id: str
    channel: str
    kind: str
    attempts: int
    last_attempt: datetime
    error: str


def failed_deliveries(session: Session, limit: int = 500) -> list[FailedDelivery]:
    rows = session.execute(select(OutboxMessage, Lead.cfa_id).outerjoin(Lead, OutboxMessage.lead_id == Lead.id)
                           .where(OutboxMessage.state == FAILED).order_by(OutboxMessage.id).limit(limit))
    return [FailedDelivery(item.id, item.lead_id, cfa_id or item.cfa_id or "?", item.channel, item.kind,
                           item.attempts, item.next_attempt_at, item.last_error or "") for item, cfa_id in rows]


def retry(session: Session, which: str, now: datetime) -> int:
    """Queue failed rows again (``which``: an outbox id or ``all``); return how many."""
    query = select(OutboxMessage).where(OutboxMessage.state == FAILED)
    if which != "all":
        query = query.where(OutboxMessage.id == int(which))
    rows = list(session.scalars(query))
    for item in rows:
        item.state, item.attempts, item.next_attempt_at = PENDING, 0, now
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=t("lead.failed.description"))
    parser.add_argument("--retry", metavar="ID", help=t("lead.failed.retry_help"))
    args = parser.parse_args(argv)
    with session_scope() as session:
        if args.retry:
            print(t("lead.failed.requeued", count=retry(session, args.retry, utcnow())))
            return 0
        rows = failed_deliveries(session)
    if not rows:
        print(t("lead.failed.none"))
        return 0
    print(t("lead.failed.header", count=len(rows)))
    for row in rows:
        print(f"#{row.outbox_id}  {row.last_attempt:%Y-%m-%d %H:%M}  {row.cfa_id}  {row.channel}/{row.kind}  "
              f"lead {row.lead_id}  ×{row.attempts}  {row.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
