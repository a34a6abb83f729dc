"""Retry rules shared by every outbox sender (e-mail and webhook in the worker,
Telegram notices in the bot).

Every failed send is recorded on its own row: attempts, a cleaned error text, and
the next attempt after a back-off. A permanent failure (the receiver said no: HTTP
4xx other than 408/429, SMTP 5xx to the message, Telegram 403) stops at once; a
transient one stops after :data:`MAX_ATTEMPTS` (about 48 hours). Stopped rows are
``failed`` and listed for staff by ``python -m akto_data.leads.failed``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from akto_data.leads.models import OutboxMessage
from akto_data.redact import BOT_TOKEN, mask_contacts

#: Delay before the 1st, 2nd, ... retry; the last one repeats.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
#: Transient failures before a row is given up: the four back-off steps, then 48 hourly retries.
MAX_ATTEMPTS = len(BACKOFF) + 48
#: States of an outbox row. ``sending``: a Telegram notice claimed by the bot (lease).
PENDING, SENDING, SENT, SKIPPED, FAILED, CANCELLED = "pending", "sending", "sent", "skipped", "failed", "cancelled"

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class SendFailed(Exception):
    """A send that did not go through, and whether trying again can help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


def error_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` fit to store and log: no address (URLs carry tokens and keys), no bot
    token, no secret given, no phone number or e-mail; 500 characters at most."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    text = BOT_TOKEN.sub("[jeton]", _URL.sub("[adresse]", text))
    return mask_contacts(text)[:500]


def record_failure(item: OutboxMessage, failure: SendFailed, now: datetime) -> None:
    """Count the attempt on ``item`` and decide: retry later (back-off) or give up (``failed``)."""
    item.attempts = (item.attempts or 0) + 1
    item.last_error = error_text(failure.reason)
    if failure.permanent or item.attempts >= MAX_ATTEMPTS:
        item.state = FAILED
        item.next_attempt_at = now  # when it was given up, for the staff list
        return
    delay = BACKOFF[min(item.attempts, len(BACKOFF)) - 1]
    if failure.retry_after:
        delay = max(delay, timedelta(seconds=failure.retry_after))
    item.state = PENDING
    item.next_attempt_at = now + delay


def record_success(item: OutboxMessage, sent: bool, now: datetime) -> None:
    """``sent`` False: there was nowhere to send it (no webhook, a console chat)."""
    item.attempts = (item.attempts or 0) + 1
    item.state = SENT if sent else SKIPPED
    item.sent_at = now
    item.last_error = None


async def attempt(send: Callable[[], Awaitable[None]], deadline: float, what: str = "Telegram") -> SendFailed | None:
    """Run one send within ``deadline`` seconds; None when it went through, else what to record.

    The one place the senders of the bot (notices, advisors' replies, CFA messages) turn
    whatever a send raised into a :class:`SendFailed` for its row: a :class:`SendFailed`
    as raised (permanent or not), a timeout or any other error as transient. Nothing is
    raised to the sending loop, so one bad row never stops the others.
    """
    try:
        await asyncio.wait_for(send(), deadline)
    except SendFailed as exc:
        return exc
    except TimeoutError:
        return SendFailed(f"délai de {deadline:g} s dépassé ({what})")
    except Exception as exc:  # whatever it is, it is recorded on the row
        return SendFailed(error_text(f"{type(exc).__name__}: {exc}"))
    return None
