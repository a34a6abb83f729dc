"""The bot's side of a live takeover (the core is :mod:`akto_data.takeover.core`).

The console queues the advisor's messages and the notices (advisor here, assistant
back) in the database; only the bot holds the Telegram token, so a task of its event
loop sends them, with the same claim / lease / record loop as the lead notices
(:mod:`bot.notices`), the chat's pacing and the HTML escaping of every answer. The
same task gives a chat back to the assistant after ``TAKEOVER_SILENCE_MINUTES``
without a message either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from telegram import Bot

from akto_data.db import session_scope
from akto_data.leads.outbox import SendFailed, attempt
from akto_data.models import utcnow
from akto_data.takeover.core import LEASE, Outgoing, claim_outgoing, close_silent, record_outgoing
from bot.notices import send_notice
from bot.pacing import ChatPacer
from bot.periodic import PeriodicTask

log = logging.getLogger(__name__)


def _round_start(now: datetime, silence: timedelta) -> list[Outgoing]:
    with session_scope() as session:
        closed = close_silent(session, now, silence)
        if closed:
            log.info("takeovers given back to the assistant after %s of silence: %s", silence, closed)
    with session_scope() as session:
        return claim_outgoing(session, now)


def _record(message_id: int, now: datetime, failure: SendFailed | None) -> None:
    with session_scope() as session:
        record_outgoing(session, message_id, now, failure)


class TakeoverRelay(PeriodicTask):
    """Every ``interval`` seconds: close silent takeovers, send the queued messages."""

    name = "takeover-relay"

    def __init__(self, bot: Bot, pacer: ChatPacer, *, interval: float = 1.0, silence_minutes: int = 30,
                 clock: Callable[[], datetime] = utcnow, deadline: float = 20.0) -> None:
        super().__init__(interval)
        self.bot = bot
        self.pacer = pacer
        self.silence = timedelta(minutes=silence_minutes)
        #: Tests move it forward to see the silence rule work.
        self.clock = clock
        self.deadline = deadline

    async def run_once(self) -> int:
        """One round; how many messages went through."""
        claimed_at = self.clock()
        messages = await asyncio.to_thread(_round_start, claimed_at, self.silence)
        delivered = 0
        for message in messages:
            if self.clock() + timedelta(seconds=self.deadline) > claimed_at + LEASE:
                # Its lease could run out mid-send and another bot process claim it again: left
                # for the next round once the lease is over, never sent twice.
                break
            failure = await attempt(partial(send_notice, self.bot, message.chat_id, message.text, pacer=self.pacer),
                                    self.deadline)
            if failure is None:
                delivered += 1
            else:
                log.warning("takeover message %s not delivered: %s", message.message_id, failure.reason)
            await asyncio.to_thread(_record, message.message_id, self.clock(), failure)
        return delivered

