"""Rasa's REST channel with the caller's message id, and a clear failure status.

Configured in ``credentials.yml`` as ``rasa_components.serving.channel.IdempotentRestInput``:
same name (``rest``), same path (``/webhooks/rest/webhook``), same body as Rasa's
``RestInput``, plus an optional ``"message_id"``. Two changes, both for the production
topology (several Rasa servers behind a balancer, a bot that retries):

1. The ``UserMessage`` gets the caller's ``message_id`` instead of a random one. Rasa
   keeps it on the ``user`` event of the tracker, so :mod:`.idempotency` can recognise
   a retry of a message already processed (by this server or another, before it died)
   and answer it with the first processing's replies instead of processing it again.
   Without ``message_id`` nothing changes.
2. When handling the message *raised* (tracker store unreachable, lock not acquired),
   Rasa's channel answers 200 with whatever was collected, usually ``[]``, which a client
   cannot tell from "processed, a custom action failed". Nothing was saved in that case
   (the tracker is saved last), so this channel answers 503: the bot apologises and sends
   the same message (same id) again later, and it is answered once the cause is gone.
   A custom action that fails does not raise (Rasa logs it and carries on): still 200.

Streaming (``?stream=true``) is refused with 400: nothing of ours uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_components.serving.idempotency import CALLER_ID_KEY

log = logging.getLogger(__name__)

#: Longest message id accepted (the bot's are 32-40 characters); longer ones are refused.
MAX_MESSAGE_ID = 128


class IdempotentRestInput(RestInput):
    """``rest`` channel: the caller's ``message_id`` on the user message; 503 when processing raised."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        custom_webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @custom_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @custom_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            message_id = body.get("message_id")
            if request.args.get("stream"):
                return response.json({"error": "stream is not supported by this channel"}, status=400)
            if message_id is not None and (not isinstance(message_id, str) or not message_id
                                           or len(message_id) > MAX_MESSAGE_ID):
                return response.json({"error": "message_id must be a non-empty string of at most "
                                               f"{MAX_MESSAGE_ID} characters"}, status=400)
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            metadata = self.get_metadata(request)
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender_id, input_channel=self._extract_input_channel(request),
                                  metadata=metadata, message_id=message_id)
            if message_id is not None:
                setattr(message, CALLER_ID_KEY, True)
            try:
                await on_new_message(message)
            except Exception as exc:  # nothing was saved: the caller may send the same message again
                log.error("message not processed, answered 503 so the caller retries: %s", type(exc).__name__,
                          exc_info=True)
                return response.json({"error": "message not processed, send it again",
                                      "reason": type(exc).__name__}, status=503)
            return response.json(collector.messages)

        return custom_webhook

