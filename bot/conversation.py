"""What the assistant does with one user action, whatever the front.

The Telegram front and the console front both call :meth:`Conversation.handle`
with a :class:`UserAction` and a ``send`` coroutine; everything in between
(payload-injection filter, commands, Rasa call, apology and retry) happens here,
so the console exercises the same code path as Telegram.

Takeover: while an AKTO advisor has taken the chat over (Telegram only), the young
person's messages are kept for the advisor's page instead of going to Rasa, and
``/annuler`` gives the chat back to the assistant (:mod:`akto_data.takeover.core`).

CFA messages (Telegram only): after the young person pressed "Répondre" under a CFA's
message, their next text goes to that CFA instead of Rasa, and ``/annuler`` cancels the
reply and stops the CFA's messages (:mod:`akto_data.leads.relay`); checked after the
takeover (an advisor in the chat comes first). At any other moment ``/annuler`` is the
assistant's (it leaves a form): the CFA's messages are stopped by the "Ne plus recevoir
ses messages" button under each of them, which the bot answers itself.

Rasa down or slow (decision): the user gets an apology as soon as the answer
budget (``RASA_TIMEOUT``, 4 s) is spent. A *slow* Rasa keeps the original
request running, and its answer is delivered when it comes (re-sending would
make Rasa see the message twice). A Rasa that *refuses* the connection gets the
message again after each delay of ``RASA_RETRY_DELAYS``; if every retry fails,
the user is asked to resend, quoting their message. Messages of the same chat wait
behind it, so their order is kept.

Empty answer (decision): Rasa's REST webhook answers 200 with ``[]`` when a custom
action failed (it logs the error and carries on), so ``[]`` means "processed, but
something broke", never "nothing to say" (every path of our dialogue answers). The
message is *not* re-sent by itself: Rasa already ran it, and a second run would
count it twice (a quiz answer, a form answer). The user gets an apology quoting
the message and a "Réessayer" button carrying the same message, so a retry is
their choice and costs no retyping.

Shared location (Telegram): the coordinates are matched to the nearest of our territories
(:func:`bot.location.place_at`) and the young person is asked "Tu es en Martinique ?"
with Oui / Non. "Oui" is our own button carrying the payload of the territory buttons of
the dialogue's territory question (``/inform{"territory":"martinique"}``), so Rasa sets
the territory exactly as when that question is answered (a form waiting for it goes on).
"Non", mainland France and a place outside every territory get that very question, read
from Rasa's domain (``utter_ask_territory``). The coordinates never reach Rasa, the logs
or the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from akto_data.catalogue.answers import intent_payload
from akto_data.i18n import text as t
from akto_data.leads.relay import route_reply_now
from akto_data.settings import Settings
from akto_data.takeover.core import Routing, route_incoming_now
from bot.guard import clean_deep_link, is_rasa_payload
from bot.location import place_at
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.replies import Button, OutgoingMessage, from_rasa

log = logging.getLogger(__name__)

Send = Callable[[OutgoingMessage], Awaitable[None]]

#: Our commands and the Rasa payload each one sends. ``/start`` is handled apart
#: because it may carry a deep-link payload.
COMMAND_PAYLOADS: dict[str, str] = {
    "aide": "/ask_help",
    "annuler": "/stop",
    "confidentialite": "/ask_privacy",
}

#: Payload of the "Non" button under "Tu es en Martinique ?": answered here with the territory question.
ASK_TERRITORY = "bot:ask-territory"
#: The dialogue's territory question (domain/slots_questions.yml), asked with its own words and buttons.
TERRITORY_QUESTION = "utter_ask_territory"

#: Media kinds we cannot read, mapped to the catalogue key of the answer.
MEDIA_TEXT_KEYS = {
    "voice": "bot.media.voice",
    "audio": "bot.media.voice",
    "video_note": "bot.media.voice",
    "photo": "bot.media.photo",
    "video": "bot.media.photo",
    "sticker": "bot.media.sticker",
    "location": "bot.media.location",
    "venue": "bot.media.location",
    "document": "bot.media.document",
}


@dataclass(frozen=True)
class UserAction:
    """One thing the user did. Exactly one of the fields below ``chat_id`` is set."""

    chat_id: str
    text: str | None = None
    command: str | None = None
    command_args: tuple[str, ...] = ()
    button_payload: str | None = None
    media_kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: What the pressed button said (with ``button_payload``): shown to an advisor during a takeover.
    button_title: str | None = None
    #: A shared location (latitude, longitude): only matched to a territory, never logged nor stored.
    location: tuple[float, float] | None = field(default=None, repr=False)
    #: Sent to Rasa with the message, the same on every retry of it: Rasa processes a message id
    #: at most once (a retry after a server died gets the first answer). A front may pass its own
    #: (e.g. from Telegram's update id, so a re-delivered update keeps it); else one per action.
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def start_payload(deep_link: str | None) -> str:
    """The Rasa payload of ``/start``, carrying a valid deep-link source if any."""
    source = clean_deep_link(deep_link)
    if source is None:
        return "/start"
    return "/start" + json.dumps({"start_source": source}, separators=(",", ":"))


class Conversation:
    """Turns user actions into Rasa messages and Rasa answers into messages."""

    def __init__(self, settings: Settings, rasa: RasaClient, *, takeovers: bool = False, relay: bool = False) -> None:
        self.settings = settings
        self.rasa = rasa
        #: Whether an advisor may take a chat over (Telegram): then every message is first
        #: checked against the takeover queue (:func:`akto_data.takeover.core.route_incoming`).
        self.takeovers = takeovers
        #: Whether CFAs' messages are relayed to this front (Telegram): after "Répondre", the
        #: chat's next text goes to the CFA (:func:`akto_data.leads.relay.route_reply`).
        self.relay = relay

    def rasa_message_for(self, action: UserAction) -> str | None:
        """The text to send to Rasa, or ``None`` when the action is answered locally."""
        if action.button_payload is not None:
            return action.button_payload  # our own button: trusted, stored server-side
        if action.command is not None:
            if action.command == "start":
                return start_payload(action.command_args[0] if action.command_args else None)
            return COMMAND_PAYLOADS.get(action.command)
        if action.text is not None and not is_rasa_payload(action.text):
            return action.text.strip() or None
        return None

    async def handle(self, action: UserAction, send: Send) -> None:
        if action.media_kind is not None:
            await send(OutgoingMessage(t(MEDIA_TEXT_KEYS.get(action.media_kind, "bot.media.other"))))
            return
        if self.takeovers:
            # A location is shown to the advisor as a mention only: its coordinates are never kept.
            shown = t("bot.location.to_advisor") if action.location is not None else action.text or action.button_title
            routing = await asyncio.to_thread(route_incoming_now, action.chat_id, shown, action.command)
            if routing is Routing.TO_ADVISOR:
                return  # kept for the advisor's page; the assistant is paused for this chat
            if routing is Routing.ENDED:
                await send(OutgoingMessage(t("takeover.ended.young")))
                return
            if routing is Routing.WITHDRAWN:
                await send(OutgoingMessage(t("takeover.withdrawn")))
        if action.location is not None:
            await self._suggest_territory(*action.location, send)
            return
        if action.button_payload == ASK_TERRITORY:
            await self._ask_territory(send)
            return
        if self.relay and action.button_payload is None and (action.text is not None or action.command is not None):
            answer = await asyncio.to_thread(route_reply_now, action.chat_id, action.text, action.command)
            if answer is not None:  # the reply went to the CFA (or /annuler stopped its messages)
                await send(OutgoingMessage(answer))
                return
        message = self.rasa_message_for(action)
        if message is None:
            if action.command is not None or (action.text and is_rasa_payload(action.text)):
                await send(OutgoingMessage(t("bot.unknown_command")))
            return
        responses = await self._ask_rasa(action, message, send)
        quoted = (action.text or action.button_payload or f"/{action.command}")[:200]
        if responses is None:
            await send(OutgoingMessage(t("bot.apology.resend", text=quoted)))
            return
        if not responses:
            log.warning("Rasa answered nothing (a custom action failed?); the user is offered a retry button")
            await send(OutgoingMessage(t("bot.apology.empty", text=quoted),
                                       (Button(t("bot.apology.retry"), message),)))
            return
        for outgoing in from_rasa(responses):
            await send(outgoing)

    async def _suggest_territory(self, latitude: float, longitude: float, send: Send) -> None:
        """"Tu es en Martinique ?" with Oui / Non, or the territory question when we cannot place it."""
        place = await asyncio.to_thread(place_at, latitude, longitude)
        if place is not None and not place.destination_only:
            await send(OutgoingMessage(t("bot.location.suggest", territory_in=place.in_the), (
                Button(t("bot.location.yes"), intent_payload("inform", territory=place.id)),
                Button(t("bot.location.no"), ASK_TERRITORY))))
            return
        await self._ask_territory(send, t("bot.location.mainland" if place is not None else "bot.location.unplaced"))

    async def _ask_territory(self, send: Send, intro: str | None = None) -> None:
        """The dialogue's territory question (its buttons set the territory in Rasa), after ``intro``."""
        try:
            question = await self.rasa.response(TERRITORY_QUESTION)
        except RasaUnavailable as exc:
            log.warning("territory question unavailable from Rasa's domain: %s", exc)
            question = {"text": t("bot.location.ask_typed")}  # a typed answer reaches Rasa's NLU later
        for outgoing in from_rasa(([{"text": intro}] if intro else []) + [question]):
            await send(outgoing)

    async def _ask_rasa(self, action: UserAction, message: str, send: Send) -> list[dict[str, Any]] | None:
        apologised = False
        delays = (0.0, *self.settings.rasa_retry_delays)
        for attempt, delay in enumerate(delays):
            if delay:
                await asyncio.sleep(delay)
            request = asyncio.ensure_future(self.rasa.send(action.chat_id, message, action.metadata,
                                                           message_id=action.message_id))
            done, _ = await asyncio.wait({request}, timeout=None if apologised else self.settings.rasa_timeout)
            if not done:
                apologised = True
                await send(OutgoingMessage(t("bot.apology.unavailable")))
            try:
                return await request
            except RasaUnavailable as exc:
                log.warning("Rasa unavailable (attempt %d/%d): %s", attempt + 1, len(delays), exc)
                if not apologised:
                    apologised = True
                    await send(OutgoingMessage(t("bot.apology.unavailable")))
        return None
