"""The bot's Rasa client in the topology: the same message id on every try, bounded immediate retries.

No Rasa here (``httpx.MockTransport``): what the balancer or a dying server answers is
played by the transport. The full topology is tested in ``test_topology.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from akto_data.settings import Settings
from bot.conversation import Conversation, UserAction
from bot.rasa_client import IMMEDIATE_RETRIES, RasaClient, RasaUnavailable

REPLY = [{"recipient_id": "c", "text": "Salut"}]


def client_with(answers: list[object], seen: list[dict]) -> RasaClient:
    """A client whose server answers each request with the next of ``answers`` (a status or an exception)."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(int(answer), json=REPLY if answer == 200 else {"error": "x"})

    client = RasaClient("http://rasa.test")
    client._client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return client


async def test_a_reset_connection_and_a_503_are_retried_with_the_same_message_id():
    seen: list[dict] = []
    client = client_with([httpx.RemoteProtocolError("server disconnected"), 503, 200], seen)
    assert await client.send("c", "bonjour", {}, message_id="m-1") == REPLY
    assert [body["message_id"] for body in seen] == ["m-1", "m-1", "m-1"]
    assert {body["message"] for body in seen} == {"bonjour"}


async def test_immediate_retries_are_bounded():
    seen: list[dict] = []
    client = client_with([502] * (IMMEDIATE_RETRIES + 5), seen)
    with pytest.raises(RasaUnavailable):
        await client.send("c", "bonjour", {}, message_id="m-2")
    assert len(seen) == IMMEDIATE_RETRIES + 1  # then the conversation's apology and slower retries take over


async def test_without_a_message_id_nothing_is_retried_here():
    seen: list[dict] = []
    client = client_with([503, 200], seen)
    with pytest.raises(RasaUnavailable):
        await client.send("c", "bonjour", {})
    assert len(seen) == 1 and "message_id" not in seen[0]


async def test_a_server_error_is_not_retried_at_once():
    seen: list[dict] = []
    client = client_with([500, 200], seen)
    with pytest.raises(RasaUnavailable):
        await client.send("c", "bonjour", {}, message_id="m-3")
    assert len(seen) == 1


async def test_the_conversation_retries_a_message_with_its_own_id_and_a_new_message_gets_another():
    ids: list[str | None] = []

    class FlakyRasa:
        async def send(self, sender, message, metadata, message_id=None):
            ids.append(message_id)
            if len(ids) == 1:
                raise RasaUnavailable("connection refused")
            return REPLY

    settings = replace(Settings(), rasa_timeout=2.0, rasa_retry_delays=(0.01,))
    conversation = Conversation(settings, FlakyRasa())  # type: ignore[arg-type]
    sent: list[str] = []

    async def send(message) -> None:
        sent.append(message.text)

    await conversation.handle(UserAction("c", text="bonjour"), send)
    await conversation.handle(UserAction("c", text="bonjour"), send)
    assert len(ids) == 3 and ids[0] == ids[1] and ids[2] != ids[0] and all(ids)
    assert sent[-1] == "Salut"
