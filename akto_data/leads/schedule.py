"""Every time-based step of a lead's follow-up, run by the outbox worker's housekeeping.

Each step is idempotent: it records what it did (a counter or a date on the lead)
in the same transaction as the outbox row it queues, and each queued row carries a
unique ``dedup_key``, so a restarted worker, or two workers at once, never queue
the same reminder, question, digest or offer twice.
"""

from __future__ import annotations

from datetime import datetime

from akto_data.db import session_scope
from akto_data.leads.followup import queue_cfa_steps
from akto_data.leads.youth import queue_youth_steps


def run_schedule(now: datetime) -> int:
    """Queue what is due at ``now``; return how many messages were queued."""
    with session_scope() as session:
        queued = queue_cfa_steps(session, now)
    with session_scope() as session:
        queued += queue_youth_steps(session, now)
    return queued
