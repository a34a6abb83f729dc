"""Telegram I/O: handlers, keyboards, webhook or long polling.

Structured like python-telegram-bot's own examples: one builder function wires the
handlers, each handler is a small coroutine. Every handler ends in
:meth:`bot.conversation.Conversation.handle`; this module only translates between
Telegram objects and :class:`~bot.conversation.UserAction` /
:class:`~bot.replies.OutgoingMessage`.

Deliberate choices:
- Edited messages are not re-processed (the conversation has moved on); the user is
  told once to send the corrected text as a new message.
- In groups the assistant answers commands and mentions only, with a link to a
  private chat: personal questions and contact details do not belong in a group.
- The command menu (the "/" button) is set at start for private chats only, in French;
  the default scope is cleared, so groups show no menu (there every command only points
  to a private chat) and no older list set elsewhere (BotFather) lingers. A failure to set
  it is logged and the bot runs without it.
- "typing…" is shown from the moment a message arrives until the answer is sent, re-sent
  every 4 s (Telegram clears it after about 5 s) while Rasa is slow or retried
  (:class:`KeepTyping`).
- A shared location suggests a territory (:mod:`bot.conversation`); the updates of a live
  location (edits every few seconds) are ignored silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import secrets
from types import TracebackType
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from akto_data.buttons import consume_button, purge_expired_buttons, register_buttons
from akto_data.chats import touch_chat
from akto_data.db import create_schema
from akto_data.i18n import text as t
from akto_data.leads.youth import BUTTON_PREFIX as LEAD_BUTTON_PREFIX
from akto_data.leads.youth import press_lead_button_now
from akto_data.privacy import erase_chat, what_we_hold
from akto_data.settings import Settings
from akto_data.shared_state import SharedState, namespace
from bot.conversation import MEDIA_TEXT_KEYS, Conversation, Send, UserAction
from bot.guard import FloodLimiter
from bot.pacing import ChatPacer, SharedRateLimiter
from bot.periodic import PeriodicTask
from bot.processor import PerChatUpdateProcessor
from bot.rasa_client import RasaClient
from bot.replies import TELEGRAM_TEXT_LIMIT, Button, OutgoingMessage, split_text

log = logging.getLogger(__name__)

READY_MARKER = "BOT_READY"
#: Path the webhook listens on; ``WEBHOOK_URL`` must end with it.
WEBHOOK_PATH = "telegram"
OUR_COMMANDS = ("aide", "annuler", "confidentialite")
#: Every command a private chat answers, in the order of Telegram's menu (descriptions: bot.commands.*).
MENU_COMMANDS = ("start", *OUR_COMMANDS, "mes_donnees", "supprimer")
#: Telegram clears "typing…" after about 5 s: re-sent this often while the answer is prepared.
TYPING_EVERY = 4.0
#: How often each process looks for chats a dead bot process left with updates pending (Redis only).
SWEEP_EVERY = 2.0
#: Payloads of buttons the bot answers itself (data rights), never sent to Rasa.
ERASE_YES, ERASE_NO = "bot:erase-yes", "bot:erase-no"
MEDIA_FILTER = (
    filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.PHOTO | filters.VIDEO
    | filters.Sticker.ALL | filters.LOCATION | filters.VENUE | filters.Document.ALL
    | filters.CONTACT | filters.ANIMATION | filters.POLL | filters.Dice.ALL
)


def chat_of(update: Update) -> int:
    """The chat an update belongs to; our handlers are registered only for updates that have one."""
    if update.effective_chat is None:
        raise ValueError("update without a chat")
    return update.effective_chat.id


def message_id(update: Update) -> str:
    """The id Rasa knows this message by (it processes an id once): Telegram's update id, so an
    update run again (Telegram re-delivering it, or another bot process taking over a chat whose
    process died mid-update) gets Rasa's first answer instead of being processed twice."""
    return f"tg-{update.update_id}"


class KeepTyping:
    """Telegram's "typing…" indicator, kept on for as long as the ``async with`` block runs.

    Sent at once, then every ``every`` seconds: a slow Rasa, or one refused and retried
    (:meth:`bot.conversation.Conversation._ask_rasa`), takes longer than the ~5 s Telegram
    shows it for. Messages are sent through :meth:`guard`, which shares a lock with the
    ticker: an indicator is never sent in the middle of a message, and since the ticker is
    cancelled as the block ends, none follows the last message (it would show "typing…"
    under a finished answer). Failures are cosmetic and only logged.
    """

    def __init__(self, bot: Bot, chat_id: int, every: float = TYPING_EVERY) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.every = every
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None

    async def _typing(self) -> None:
        try:
            await self.bot.send_chat_action(self.chat_id, ChatAction.TYPING)
        except TelegramError as exc:  # cosmetic: never lose an answer for it
            log.debug("typing indicator failed: %s", exc)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            async with self._lock:
                await self._typing()

    def guard(self, send: Send) -> Send:
        """``send``, never overlapping an indicator."""
        async def guarded(message: OutgoingMessage) -> None:
            async with self._lock:
                await send(message)

        return guarded

    async def __aenter__(self) -> KeepTyping:
        await self._typing()
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


async def set_command_menu(bot: Bot) -> bool:
    """Telegram's command menu for private chats, in French; False (logged) if Telegram refused."""
    commands = [BotCommand(name, t(f"bot.commands.{name}")) for name in MENU_COMMANDS]
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
        await bot.delete_my_commands()  # default scope: groups show none, no stale list from BotFather
    except TelegramError as exc:
        log.warning("command menu not set, the bot runs without it: %s", exc)
        return False
    return True


class ChatSweeper(PeriodicTask):
    """Runs the chats whose bot process died with updates pending in Redis (:meth:`PerChatUpdateProcessor.sweep`)."""

    name = "chat-sweeper"

    def __init__(self, processor: PerChatUpdateProcessor, interval: float = SWEEP_EVERY) -> None:
        super().__init__(interval)
        self.processor = processor

    async def run_once(self) -> int:
        return await self.processor.sweep()


class TelegramFront:
    """Holds what the handlers share: the conversation core, pacing, the bot.

    With ``REDIS_URL`` (several bot processes behind one webhook) the flood limits, the
    per-chat order, the per-chat pacing and Telegram's global budget are shared through
    Redis (:mod:`akto_data.shared_state`); without it they live in this process's memory.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rasa = RasaClient(settings.rasa_url, token=settings.rasa_auth_token)
        self.conversation = Conversation(settings, self.rasa, takeovers=True, relay=True)
        self.shared: SharedState | None = None
        if settings.redis_url and settings.telegram_token:
            self.shared = SharedState(settings.redis_url, namespace(settings.telegram_token))
        self.pacer = ChatPacer(settings.chat_min_interval, shared=self.shared)
        self.flood = FloodLimiter(settings.flood_max_messages, settings.flood_window)
        self.presses = FloodLimiter(settings.flood_max_presses, settings.flood_window)
        self.bot_username: str | None = None
        self.application: Application | None = None

    # -- sending -------------------------------------------------------------------
    def sender(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> Send:
        async def send(message: OutgoingMessage) -> None:
            markup = None
            if message.buttons:
                ids = await asyncio.to_thread(
                    register_buttons, str(chat_id), [(b.title, b.payload) for b in message.buttons]
                )
                markup = InlineKeyboardMarkup(
                    [[InlineKeyboardButton(b.title, callback_data=bid)] for b, bid in zip(message.buttons, ids)]
                )
            await self.pacer.wait(chat_id)
            await context.bot.send_message(chat_id, message.html(), parse_mode=ParseMode.HTML, reply_markup=markup)

        return send

    @staticmethod
    def metadata(update: Update) -> dict[str, Any]:
        user = update.effective_user
        return {
            "channel": "telegram",
            "chat_id": chat_of(update) if update.effective_chat else None,
            "language": user.language_code if user else None,
            "first_name": user.first_name if user else None,
            # Offered as the contact when the young person chooses "Sur Telegram" in the lead form.
            "username": user.username if user else None,
        }

    async def _run(self, update: Update, context: ContextTypes.DEFAULT_TYPE, action: UserAction) -> None:
        chat_id = chat_of(update)
        user = update.effective_user
        start_source = action.command_args[0] if action.command == "start" and action.command_args else None
        await asyncio.to_thread(
            touch_chat, str(chat_id), language=user.language_code if user else None, start_source=start_source
        )
        async with KeepTyping(context.bot, chat_id) as typing:
            await self.conversation.handle(action, typing.guard(self.sender(context, chat_id)))

    # -- handlers ------------------------------------------------------------------
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        action = UserAction(str(chat_of(update)), command="start", command_args=tuple(context.args or ()),
                            metadata=self.metadata(update), message_id=message_id(update))
        await self._run(update, context, action)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        typed = update.effective_message.text if update.effective_message else None
        name = (typed or "/").split()[0][1:].split("@")[0].lower()
        action = UserAction(str(chat_of(update)), command=name, metadata=self.metadata(update),
                            message_id=message_id(update))
        await self._run(update, context, action)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        action = UserAction(str(chat_of(update)), text=message.text if message else None,
                            metadata=self.metadata(update), message_id=message_id(update))
        await self._run(update, context, action)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        chat_id = chat_of(update)
        stored = await asyncio.to_thread(consume_button, str(chat_id), query.data or "")
        await query.answer()
        if stored is None:
            await self.sender(context, chat_id)(OutgoingMessage(t("bot.button_expired")))
            return
        await self._close_keyboard(query, stored.title)
        if stored.payload in (ERASE_YES, ERASE_NO):
            await self._erase(context, chat_id, confirmed=stored.payload == ERASE_YES)
            return
        if stored.payload.startswith(LEAD_BUTTON_PREFIX):
            # Day-7 question, offer of another CFA, a CFA's message: answered by the core, not Rasa.
            answer = await asyncio.to_thread(press_lead_button_now, str(chat_id), stored.payload)
            await self.sender(context, chat_id)(OutgoingMessage(answer))
            return
        action = UserAction(str(chat_id), button_payload=stored.payload, metadata=self.metadata(update),
                            button_title=stored.title, message_id=message_id(update))
        await self._run(update, context, action)

    @staticmethod
    async def _close_keyboard(query: Any, chosen: str) -> None:
        """Remove the pressed keyboard (it answers once) and show what was chosen."""
        original = query.message.text if query.message else None
        try:
            if original and len(original) + len(chosen) + 4 < TELEGRAM_TEXT_LIMIT:
                await query.edit_message_text(
                    f"{html.escape(original, quote=False)}\n\n👉 <b>{html.escape(chosen, quote=False)}</b>",
                    parse_mode=ParseMode.HTML, reply_markup=None,
                )
            else:
                await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError as exc:  # e.g. message too old to edit: the choice still counts
            log.info("could not close keyboard: %s", exc)

    # -- data rights -----------------------------------------------------------------
    async def on_my_data(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/mes_donnees: everything held, from every store of akto_data.personal_data (Rasa's included)."""
        chat_id = chat_of(update)
        held = await asyncio.to_thread(what_we_hold, str(chat_id))
        send = self.sender(context, chat_id)
        for piece in split_text(held.render(self.settings), TELEGRAM_TEXT_LIMIT // 2):  # HTML escaping lengthens
            await send(OutgoingMessage(piece))

    async def on_erase(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/supprimer: asks for confirmation with two buttons."""
        await self.sender(context, chat_of(update))(OutgoingMessage(t("privacy.confirm"), (
            Button(t("privacy.confirm_yes"), ERASE_YES), Button(t("privacy.confirm_no"), ERASE_NO))))

    async def _erase(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, confirmed: bool) -> None:
        if confirmed:
            removed = await asyncio.to_thread(erase_chat, str(chat_id), self.settings.database_url)
            log.info("erased chat data: %s", removed)
        await self.sender(context, chat_id)(OutgoingMessage(t("privacy.erased" if confirmed else "privacy.kept")))

    async def on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        kind = next((k for k in MEDIA_TEXT_KEYS if getattr(message, k, None)), "other")
        action = UserAction(str(chat_of(update)), media_kind=kind, metadata=self.metadata(update))
        await self.conversation.handle(action, self.sender(context, chat_of(update)))

    async def on_location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A shared location (or venue): used to suggest the territory, never kept."""
        message = update.effective_message
        spot = None
        if message is not None:
            spot = message.location or (message.venue.location if message.venue else None)
        if spot is None:
            await self.on_media(update, context)
            return
        action = UserAction(str(chat_of(update)), location=(spot.latitude, spot.longitude),
                            metadata=self.metadata(update), message_id=message_id(update))
        await self._run(update, context, action)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.location is not None:
            return  # a live location moving: Telegram sends an edit every few seconds
        await self.sender(context, chat_of(update))(OutgoingMessage(t("bot.edited")))

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        link = f"https://t.me/{self.bot_username}" if self.bot_username else "@" + (context.bot.username or "")
        await self.sender(context, chat_of(update))(OutgoingMessage(t("bot.group_only_private", link=link)))

    async def on_flood(self, update: Update) -> None:
        if update.effective_chat is not None and self.application is not None:
            await self.pacer.wait(chat_of(update))
            await self.application.bot.send_message(chat_of(update), t("bot.flood"))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(chat_of(update), t("bot.error"))
            except TelegramError:
                log.exception("could not even apologise")

    # -- wiring --------------------------------------------------------------------
    def build(self, request: BaseRequest | None = None, updates_request: BaseRequest | None = None) -> Application:
        """The python-telegram-bot application. ``request`` lets tests bridge the emulator."""
        if not self.settings.telegram_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is required for the Telegram front")
        self.processor = PerChatUpdateProcessor(256, self.flood, self.on_flood, presses=self.presses,
                                                shared=self.shared, run_update=self._run_queued)
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_token)
            .base_url(self.settings.telegram_api_base_url)
            .rate_limiter(SharedRateLimiter(self.shared) if self.shared is not None else AIORateLimiter())
            .concurrent_updates(self.processor)
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
        )
        if request is not None:
            builder = builder.request(request).get_updates_request(updates_request or request)
        app = builder.build()
        private = filters.ChatType.PRIVATE
        app.add_handler(MessageHandler(filters.UpdateType.EDITED & private, self.on_edited))
        app.add_handler(MessageHandler(filters.ChatType.GROUPS & (filters.COMMAND | filters.Entity("mention")),
                                       self.on_group))
        app.add_handler(CommandHandler("start", self.on_start, filters=private))
        app.add_handler(CommandHandler(list(OUR_COMMANDS), self.on_command, filters=private))
        app.add_handler(CommandHandler("mes_donnees", self.on_my_data, filters=private))
        app.add_handler(CommandHandler("supprimer", self.on_erase, filters=private))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(filters.TEXT & private & filters.UpdateType.MESSAGE, self.on_text))
        app.add_handler(MessageHandler((filters.LOCATION | filters.VENUE) & private & filters.UpdateType.MESSAGE,
                                       self.on_location))
        app.add_handler(MessageHandler(MEDIA_FILTER & private & filters.UpdateType.MESSAGE, self.on_media))
        app.add_error_handler(self.on_error)
        self.application = app
        return app

    async def _run_queued(self, data: dict[str, Any]) -> None:
        """An update another bot process received, run here in its chat's turn (Redis)."""
        app = self.application
        if app is None:
            raise RuntimeError("application not built")
        await app.process_update(Update.de_json(data, app.bot))

    async def _post_init(self, app: Application) -> None:
        await asyncio.to_thread(create_schema)
        await asyncio.to_thread(purge_expired_buttons)  # keyboards older than 30 days
        me = await app.bot.get_me()
        self.bot_username = me.username
        await set_command_menu(app.bot)
        # The bot alone holds the token, so it sends the young people's lead status notices.
        from bot.notices import NoticeSender

        self.notices = NoticeSender(app.bot, self.settings.lead_notice_interval, pacer=self.pacer)
        self.notices.start()
        # ... and the CFAs' messages written in the portal.
        from bot.lead_relay import LeadRelay

        self.lead_relay = LeadRelay(app.bot, self.pacer, interval=self.settings.lead_notice_interval)
        self.lead_relay.start()
        # ... and the messages of AKTO advisors who took a conversation over (web console).
        from bot.takeover import TakeoverRelay

        self.takeovers = TakeoverRelay(app.bot, self.pacer, interval=self.settings.takeover_poll_interval,
                                       silence_minutes=self.settings.takeover_silence_minutes)
        self.takeovers.start()
        if self.shared is not None:
            self.sweeper = ChatSweeper(self.processor)
            self.sweeper.start()
        print(f"{READY_MARKER} @{me.username}", flush=True)

    async def _post_shutdown(self, _app: Application) -> None:
        notices = getattr(self, "notices", None)
        if notices is not None:
            await notices.stop()
        takeovers = getattr(self, "takeovers", None)
        if takeovers is not None:
            await takeovers.stop()
        lead_relay = getattr(self, "lead_relay", None)
        if lead_relay is not None:
            await lead_relay.stop()
        sweeper = getattr(self, "sweeper", None)
        if sweeper is not None:
            await sweeper.stop()
        await self.rasa.aclose()
        if self.shared is not None:
            await self.shared.aclose()

    def webhook_options(self) -> dict[str, Any]:
        """Where and how the webhook listens.

        Telegram echoes the secret in the ``X-Telegram-Bot-Api-Secret-Token`` header;
        python-telegram-bot answers 403 to any request without it, so nobody else can
        inject updates. Without ``WEBHOOK_SECRET`` a random one is made per start; with
        several processes (``REDIS_URL``) one made per start would undo the others' (each
        start sets the webhook, and the last secret set is the one Telegram sends), so
        there it is derived from the token: the same in every process, known to no one
        who does not hold the token already.
        """
        secret = self.settings.webhook_secret
        if not secret and self.shared is not None and self.settings.telegram_token:
            secret = hashlib.sha256(b"akto-webhook-secret:" + self.settings.telegram_token.encode()).hexdigest()
        return {
            "listen": self.settings.webhook_listen,
            "port": self.settings.webhook_port,
            "url_path": WEBHOOK_PATH,
            "webhook_url": self.settings.webhook_url,
            "secret_token": secret or secrets.token_urlsafe(32),
            "allowed_updates": Update.ALL_TYPES,
        }

    def run(self) -> None:
        """Block serving Telegram: webhook if ``WEBHOOK_URL`` is set, long polling otherwise."""
        app = self.application or self.build()
        if self.settings.webhook_url:
            app.run_webhook(**self.webhook_options())
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES)
