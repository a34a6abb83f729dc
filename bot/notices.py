"""The bot sends the young people's status notices (the core is :mod:`akto_data.leads.notices`).

Only the bot process has the Telegram token; it sends with python-telegram-bot's
``Bot``, whose errors never contain the request URL (the token is in it). Telegram's
answers become :class:`~akto_data.leads.outbox.SendFailed`: 403 (the young person
blocked the bot) and 400 (chat gone) are permanent, 429 waits as long as Telegram
asks, the rest is retried with the outbox's back-off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from akto_data.buttons import register_buttons
from akto_data.leads.notices import send_due_notices
from akto_data.leads.outbox import SendFailed
from bot.pacing import ChatPacer
from bot.periodic import PeriodicTask
from bot.replies import OutgoingMessage

log = logging.getLogger(__name__)


async def send_notice(bot: Bot, chat_id: str, text: str, *, pacer: ChatPacer | None = None,
                      buttons: tuple[tuple[str, str], ...] = ()) -> None:
    """One notice, with Telegram's refusals translated into the outbox's terms.

    With ``pacer`` (messages of a takeover or a CFA, part of a live chat) the chat's
    pacing is kept and the text is escaped for HTML parse mode, as for the assistant's
    answers. ``buttons`` ``(title, payload)``: stored server-side like every inline
    button of the bot (:func:`akto_data.buttons.register_buttons`), one per row.
    """
    markup = None
    if buttons:
        ids = await asyncio.to_thread(register_buttons, chat_id, list(buttons))
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(title, callback_data=bid)]
                                       for (title, _payload), bid in zip(buttons, ids)])
    try:
        if pacer is None:
            await bot.send_message(int(chat_id), text, reply_markup=markup)
        else:
            await pacer.wait(int(chat_id))
            await bot.send_message(int(chat_id), OutgoingMessage(text).html(), parse_mode=ParseMode.HTML,
                                   reply_markup=markup)
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
    """A task of the bot's event loop: every ``interval`` seconds, send the due notices and questions
    (the day-7 question, the offer of another CFA: with their buttons, at the chat's pace)."""

    name = "lead-notices"

    def __init__(self, bot: Bot, interval: float = 5.0, pacer: ChatPacer | None = None) -> None:
        super().__init__(interval)
        self.bot = bot
        self.pacer = pacer

    async def run_once(self) -> int:
        return await send_due_notices(
            lambda chat_id, text: send_notice(self.bot, chat_id, text),
            ask=lambda chat_id, text, buttons: send_notice(self.bot, chat_id, text, pacer=self.pacer,
                                                            buttons=buttons))
