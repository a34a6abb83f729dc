"""Status notices and questions to young people, sent by the bot.

Rows of the outbox on channel ``telegram``: ``notice`` (a CFA status: "the CFA opened
your request"), ``followup`` (the day-7 question) and ``reroute`` (the offer of another
CFA), the last two with buttons whose payloads the bot answers itself
(:mod:`akto_data.leads.youth`). A question whose moment has passed when it is due (the
CFA answered meanwhile, the lead was closed) is skipped, not sent.

Only the bot process holds the Telegram token, so the bot sends these outbox rows
(``channel == "telegram"``) with its own python-telegram-bot ``Bot``; this module is
the part that does not depend on Telegram: which notices are due, their text, and
what a success or a failure does to the row (same back-off and give-up rules as the
worker's, :mod:`akto_data.leads.outbox`).

A row is claimed with a lease (state ``sending``, next attempt pushed by
:data:`LEASE`) in a short transaction, then sent, then recorded in another: no
database lock is held while Telegram answers, and a bot that dies mid-send leaves a
row that is claimed again once the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.models import Lead, OutboxMessage
from akto_data.leads.outbox import PENDING, SENDING, SendFailed, attempt, record_failure, record_success
from akto_data.models import utcnow

if TYPE_CHECKING:
    from akto_data.leads.youth import Question

log = logging.getLogger(__name__)

#: How long a claimed notice is reserved for the bot that claimed it.
LEASE = timedelta(minutes=2)
#: A Telegram chat id, as a regular expression for SQL (``regexp_match``: PostgreSQL's ``~``,
#: SQLAlchemy's REGEXP function on SQLite): the time-based steps select these chats in the query.
TELEGRAM_CHAT_SQL = "^-?[0-9]+$"
_TELEGRAM_CHAT = re.compile(r"-?\d+")


def is_telegram_chat(chat_id: str | None) -> bool:
    """Telegram chat ids are integers; the console's are ``console-<user>``."""
    return bool(chat_id) and bool(_TELEGRAM_CHAT.fullmatch(chat_id or ""))


@dataclass(frozen=True)
class Notice:
    outbox_id: int
    chat_id: str
    text: str
    #: Buttons under the text, ``(title, payload)``: the day-7 question, the offer of another CFA.
    buttons: tuple[tuple[str, str], ...] = ()


def claim_notices(session: Session, now: datetime, limit: int = 20) -> list[Notice]:
    """Due notices, reserved for the caller; notices with nowhere to go are marked skipped."""
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == "telegram", OutboxMessage.state.in_((PENDING, SENDING)),
        OutboxMessage.next_attempt_at <= now).order_by(OutboxMessage.id).limit(limit)).all()
    claimed = []
    for row in rows:
        lead = row.lead
        if lead is None or lead.anonymised_at is not None or not is_telegram_chat(lead.chat_id):
            record_success(row, False, now)
            continue
        # Compare-and-set: of two bots, only one gets the row (FOR UPDATE does nothing on SQLite).
        taken = session.execute(update(OutboxMessage).where(
            OutboxMessage.id == row.id, OutboxMessage.state.in_((PENDING, SENDING)),
            OutboxMessage.next_attempt_at <= now).values(state=SENDING, next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False))
        if not taken.rowcount:  # type: ignore[attr-defined]
            continue
        if row.kind in ("followup", "reroute"):
            question = _question(session, row, lead)
            if question is None:  # its moment has passed (the CFA answered, the lead was closed)
                record_success(row, False, now)
                continue
            claimed.append(Notice(row.id, str(lead.chat_id), question.text, question.buttons))
            continue
        cfa = session.get(CatCfa, lead.cfa_id)
        payload = row.payload or {}
        status = payload.get("status", "")
        reason = t(f"lead.refusal.{payload['reason']}") if payload.get("reason") else ""
        text = t(f"lead.notice.{status}", cfa=cfa.name if cfa else lead.cfa_id, training=lead.training,
                 reason=reason)
        claimed.append(Notice(row.id, str(lead.chat_id), text))
    return claimed


def _question(session: Session, row: OutboxMessage, lead: Lead) -> Question | None:
    """The day-7 question or the offer of another CFA, if still meaningful."""
    from akto_data.leads import youth  # youth builds on this module (is_telegram_chat)

    if row.kind == "followup":
        if lead.followup_answer is not None or not youth.waiting_on_cfa(session, lead):
            return None
        return youth.followup_question(session, lead)
    if not youth.waiting_on_cfa(session, lead):
        return None
    return youth.reroute_question(session, lead, str((row.payload or {}).get("cfa_id", "")))


def record_notice(session: Session, outbox_id: int, now: datetime, failure: SendFailed | None) -> None:
    """The result of one send; nothing if the row went meanwhile (chat erased)."""
    item = session.get(OutboxMessage, outbox_id)
    if item is None or item.state != SENDING:
        return
    if failure is None:
        record_success(item, True, now)
    else:
        record_failure(item, failure, now)
        log.log(logging.ERROR if item.state != PENDING else logging.WARNING,
                "notice %s (lead %s) not delivered (attempt %d, %s): %s", item.id, item.lead_id, item.attempts,
                "will retry" if item.state == PENDING else "given up", item.last_error)


def _claim(now: datetime, limit: int) -> list[Notice]:
    with session_scope() as session:
        return claim_notices(session, now, limit)


def _record(outbox_id: int, now: datetime, failure: SendFailed | None) -> None:
    with session_scope() as session:
        record_notice(session, outbox_id, now, failure)


#: Sends a question: ``(chat_id, text, buttons)`` with buttons ``(title, payload)``.
SendQuestion = Callable[[str, str, tuple[tuple[str, str], ...]], Awaitable[None]]


async def send_due_notices(send: Callable[[str, str], Awaitable[None]], *, deadline: float = 20.0, limit: int = 20,
                           clock: Callable[[], datetime] = utcnow, ask: SendQuestion | None = None) -> int:
    """Send the due notices with ``send(chat_id, text)``, questions with ``ask``; how many went through.

    ``send`` raises :class:`SendFailed` (permanent for a blocked bot) or anything
    else (counted as a transient failure); each send has ``deadline`` seconds in all.
    """
    claimed_at = clock()
    notices = await asyncio.to_thread(_claim, claimed_at, limit)
    delivered = 0
    for notice in notices:
        if clock() + timedelta(seconds=deadline) > claimed_at + LEASE:
            break  # its lease could run out mid-send and another bot claim it: next round, never twice
        if notice.buttons and ask is not None:
            failure = await attempt(partial(ask, notice.chat_id, notice.text, notice.buttons), deadline)
        else:
            failure = await attempt(partial(send, notice.chat_id, notice.text), deadline)
        delivered += failure is None
        await asyncio.to_thread(_record, notice.outbox_id, clock(), failure)
    return delivered
