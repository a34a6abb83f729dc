"""The bot sends the young people's status notices (the core is :mod:`akto_data.leads.notices`).

Only the bot process has the Telegram token; it sends with python-telegram-bot's
``Bot``, whose errors never contain the request URL (the token is in it). Telegram's
answers become :class:`~akto_data.leads.outbox.SendFailed`: 403 (the young person
blocked the bot) and 400 (chat gone) are permanent, 429 waits as long as Telegram
asks, the rest is retried with the outbox's back-off.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from akto_data.leads.notices import send_due_notices
from akto_data.leads.outbox import SendFailed
from bot.pacing import ChatPacer
from bot.periodic import PeriodicTask
from bot.replies import OutgoingMessage

log = logging.getLogger(__name__)


async def send_notice(bot: Bot, chat_id: str, text: str, *, pacer: ChatPacer | None = None) -> None:
    """One notice, with Telegram's refusals translated into the outbox's terms.

    With ``pacer`` (messages of a takeover, part of a live chat) the chat's pacing is
    kept and the text is escaped for HTML parse mode, as for the assistant's answers.
    """
    try:
        if pacer is None:
            await bot.send_message(int(chat_id), text)
        else:
            await pacer.wait(int(chat_id))
            await bot.send_message(int(chat_id), OutgoingMessage(text).html(), parse_mode=ParseMode.HTML)
    except Forbidden as exc:
        raise SendFailed(f"Telegram 403 Forbidden: {exc.message}", permanent=True) from None
    except BadRequest as exc:
        raise SendFailed(f"Telegram 400 Bad Request: {exc.message}", permanent=True) from None
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise SendFailed("Telegram 429 Too Many Requests", retry_after=seconds) from None
    except TelegramError as exc:
        raise SendFailed(f"Telegram {type(exc).__name__}: {exc.message}") from None


class NoticeSender(PeriodicTask):
    """A task of the bot's event loop: every ``interval`` seconds, send the due notices."""

    name = "lead-notices"

    def __init__(self, bot: Bot, interval: float = 5.0) -> None:
        super().__init__(interval)
        self.bot = bot

    async def run_once(self) -> int:
        return await send_due_notices(lambda chat_id, text: send_notice(self.bot, chat_id, text))
