"""The bot relays the CFAs' messages to the young people (the core is :mod:`akto_data.leads.relay`).

The portal queues a CFA's message in the database; only the bot holds the Telegram
token, so a task of its event loop sends them, with the same claim / lease / record
loop as the lead notices and the advisors' messages, the chat's pacing and the HTML
escaping of every answer (a CFA's text is never read as markup). A blocked bot (403)
is a permanent failure: the portal shows the message as failed and it is not retried.

Why it failed is classified here, from Telegram's error *type* (:func:`classified`):
the row's ``last_error`` starts with :data:`akto_data.leads.relay.BLOCKED` (403
Forbidden) or :data:`~akto_data.leads.relay.CHAT_GONE` (400 Bad Request), which the
portal reads, instead of guessing from numbers in the error's text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from telegram import Bot
from telegram.error import BadRequest, Forbidden

from akto_data.leads.outbox import SendFailed, attempt
from akto_data.leads.relay import BLOCKED, CHAT_GONE, LEASE, claim_relay_now, record_relay_now
from akto_data.models import utcnow
from bot.notices import send_notice
from bot.pacing import ChatPacer
from bot.periodic import PeriodicTask

log = logging.getLogger(__name__)


def classified(failure: SendFailed) -> SendFailed:
    """``failure`` with the relay's stable prefix when Telegram refused for good.

    :func:`bot.notices.send_notice` turns Telegram's errors into :class:`SendFailed`
    (``raise ... from None``, which hides the original from tracebacks but keeps it as
    ``__context__``): the type of that original error decides, not its text.
    """
    original = failure.__context__
    if isinstance(original, Forbidden):
        return SendFailed(f"{BLOCKED} {failure.reason}", permanent=True)
    if isinstance(original, BadRequest):
        return SendFailed(f"{CHAT_GONE} {failure.reason}", permanent=True)
    return failure


class LeadRelay(PeriodicTask):
    """Every ``interval`` seconds: send the CFAs' queued messages, with "Répondre" / "Ne plus recevoir"."""

    name = "lead-relay"

    def __init__(self, bot: Bot, pacer: ChatPacer, *, interval: float = 2.0,
                 clock: Callable[[], datetime] = utcnow, deadline: float = 20.0) -> None:
        super().__init__(interval)
        self.bot = bot
        self.pacer = pacer
        self.clock = clock
        self.deadline = deadline

    async def run_once(self) -> int:
        """One round; how many messages went through."""
        claimed_at = self.clock()
        messages = await asyncio.to_thread(claim_relay_now, claimed_at)
        delivered = 0
        for message in messages:
            if self.clock() + timedelta(seconds=self.deadline) > claimed_at + LEASE:
                # Its lease could run out mid-send and another bot process claim it again: left
                # for the next round once the lease is over, never sent twice.
                break
            failure = await attempt(partial(send_notice, self.bot, message.chat_id, message.text, pacer=self.pacer,
                                            buttons=message.buttons), self.deadline)
            if failure is None:
                delivered += 1
            else:
                failure = classified(failure)
                log.warning("CFA message %s not delivered: %s", message.message_id, failure.reason)
            await asyncio.to_thread(record_relay_now, message.message_id, self.clock(), failure)
        return delivered
