"""The production topology against the machine's PostgreSQL, Redis and RabbitMQ (issue 14).

Two Rasa servers behind HAProxy, one action server, PostgreSQL tracker store, Redis lock
store, RabbitMQ event broker (:mod:`stack.topology`), started once for this module.
What a user or an operator would notice: a conversation spread over both servers keeps its
state; a retried message is answered once; two messages of one chat sent together are
handled one after the other; every event reaches the broker; a new model reaches every
server with no message dropped; a Rasa server killed mid-traffic, the action server
restarted and PostgreSQL restarted lose, duplicate and reorder nothing.

Resources (shared machine): ``TEST_POSTGRES_URL`` (e.g. ``…/test_topology``),
``TOPOLOGY_REDIS_URL`` (default Redis db 3), ``TOPOLOGY_RABBITMQ_URL``; RabbitMQ queue and
exchange ``topology_events`` (deleted at the end). The PostgreSQL restart (the machine's
shared cluster) runs once, last.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from akto_data.i18n import text as t
from akto_data.settings import load_settings
from bot.conversation import Conversation, UserAction
from bot.rasa_client import RasaClient
from bot.replies import OutgoingMessage
from stack.model import ensure_model
from stack.retrain import load_into_rasa
from stack.services import RASA_PYTHON
from stack.topology import HAPROXY, Topology, balancer_servers, free_port, running_topology, status_of
from tests.conftest import POSTGRES_URL, postgres_unreachable

REDIS_URL = os.environ.get("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/3")
RABBITMQ_URL = os.environ.get("TOPOLOGY_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
EVENTS = "topology_events"

pytestmark = pytest.mark.e2e

#: Reads (or deletes) our RabbitMQ queue with the aio-pika Rasa ships (not in our .venv).
RABBIT_SCRIPT = """
import asyncio, json, sys, aio_pika
async def main(url, queue, exchange, action):
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        if action == "delete":
            await channel.queue_delete(queue)
            await channel.exchange_delete(exchange)
            return
        box = await channel.declare_queue(queue, durable=True)
        bodies = []
        while True:
            message = await box.get(no_ack=True, fail=False)
            if message is None:
                break
            bodies.append(json.loads(message.body))
        print(json.dumps(bodies))
asyncio.run(main(*sys.argv[1:]))
"""


def rabbit(action: str) -> list[dict[str, Any]]:
    done = subprocess.run([str(RASA_PYTHON), "-c", RABBIT_SCRIPT, RABBITMQ_URL, EVENTS, EVENTS, action],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout) if action == "read" else []


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _absent() -> str | None:
    reason = postgres_unreachable()
    if reason:
        return reason
    if not _reachable(REDIS_URL, 6379):
        return f"Redis not reachable at {REDIS_URL} (set TOPOLOGY_REDIS_URL)"
    if not _reachable(RABBITMQ_URL, 5672):
        return f"RabbitMQ not reachable at {urlparse(RABBITMQ_URL).hostname} (set TOPOLOGY_RABBITMQ_URL)"
    if not Path(HAPROXY).exists():
        return "HAProxy not installed (apt-get install -y haproxy; make test does it)"
    return None


@pytest.fixture(scope="module")
def topology() -> Any:
    reason = _absent()
    if reason:
        pytest.skip(reason)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # our db only: stale locks of an earlier run
    rabbit("delete")
    settings = replace(load_settings(), database_url=POSTGRES_URL, redis_url=REDIS_URL, rabbitmq_url=RABBITMQ_URL,
                       events_queue=EVENTS, events_exchange=EVENTS, rasa_url=f"http://127.0.0.1:{free_port()}",
                       action_server_url=f"http://127.0.0.1:{free_port()}/webhook", rasa_server_urls=(),
                       action_server_urls=(), rasa_auth_token=None, action_server_token=None)
    # Not under pytest's basetemp: another engineer's pytest run may prune it while we run.
    log_dir = Path(tempfile.mkdtemp(prefix="topology-test-"))
    try:
        with running_topology(ensure_model(), rasa_servers=2, settings=settings, log_dir=log_dir) as running:
            yield running
        shutil.rmtree(log_dir, ignore_errors=True)  # kept when the start failed: its logs say why
    finally:
        rabbit("delete")


def post(url: str, sender: str, text: str, message_id: str | None = None, timeout: float = 90.0) -> list[dict]:
    body: dict[str, Any] = {"sender": sender, "message": text, "metadata": {"channel": "telegram", "language": "fr"}}
    if message_id is not None:
        body["message_id"] = message_id
    response = httpx.post(f"{url}/webhooks/rest/webhook", json=body, timeout=timeout)
    response.raise_for_status()
    return response.json()


async def apost(client: httpx.AsyncClient, url: str, sender: str, text: str, message_id: str) -> list[dict]:
    response = await client.post(f"{url}/webhooks/rest/webhook", json={
        "sender": sender, "message": text, "metadata": {"channel": "telegram"}, "message_id": message_id})
    response.raise_for_status()
    return response.json()


def events_of(topology: Topology, sender: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{topology.url}/conversations/{sender}/tracker",
                         params={"token": topology.settings.rasa_auth_token, "include_events": "ALL"}, timeout=30)
    response.raise_for_status()
    return response.json()["events"]


def user_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["message_id"] for e in events if e["event"] == "user"]


def new_sender(kind: str) -> str:
    return f"topology-{kind}-{uuid.uuid4().hex[:10]}"


def assert_not_interleaved(events: list[dict[str, Any]]) -> None:
    """Each user message's processing ended (action_listen) before the next user message."""
    waiting = False
    for event in events:
        if event["event"] == "user":
            assert not waiting, f"a user message arrived while the previous was processed: {events}"
            waiting = True
        elif event["event"] == "action" and event.get("name") == "action_listen":
            waiting = False


# -- state, idempotency, order ---------------------------------------------------------------------------------------


def test_a_conversation_spread_over_both_servers_keeps_its_state(topology):
    sender = new_sender("spread")
    servers = topology.rasa_urls
    first = post(servers[0], sender, "/request_cfa_contact", "1")
    assert first, "the lead form's first question"
    second = post(servers[1], sender, "Léa", "2")
    third = post(servers[0], sender, "19 ans", "3")
    assert second and third
    tracker = httpx.get(f"{servers[1]}/conversations/{sender}/tracker",
                        params={"token": topology.settings.rasa_auth_token}, timeout=30).json()
    slots = tracker["slots"]
    assert slots["lead_first_name"] == "Léa", slots  # asked on server 1, answered on server 2
    assert str(slots["age"]).startswith("19"), slots  # answered on server 1: the form went on
    assert tracker["active_loop"].get("name"), "the lead form is still running"
    assert [r.get("text") for r in second] != [r.get("text") for r in third], "each answer asked the next question"


def test_the_balancer_uses_both_servers(topology):
    before = {name: int(row["stot"]) for name, row in balancer_servers(topology.balancer_admin).items()}
    for number in range(8):
        assert post(topology.url, new_sender("spread-lb"), "bonjour", str(number))
    after = {name: int(row["stot"]) for name, row in balancer_servers(topology.balancer_admin).items()}
    assert after["rasa/rasa-1"] > before["rasa/rasa-1"] and after["rasa/rasa-2"] > before["rasa/rasa-2"], after


def test_a_retried_message_id_is_answered_with_the_same_replies_and_kept_once(topology):
    sender = new_sender("retry")
    first = post(topology.rasa_urls[0], sender, "bonjour", "m-1")
    again = post(topology.rasa_urls[1], sender, "bonjour", "m-1")  # e.g. the first server died before answering
    assert first and again == first
    other = post(topology.url, sender, "merci", "m-2")
    assert other and other != first, "a new id is processed"
    assert user_ids(events_of(topology, sender)) == ["m-1", "m-2"]
    later = post(topology.url, sender, "bonjour", "m-1")  # a late retry, after another message
    assert later == first
    assert user_ids(events_of(topology, sender)) == ["m-1", "m-2"]


def test_a_message_without_id_is_processed_as_rasa_does(topology):
    sender = new_sender("noid")
    assert post(topology.url, sender, "bonjour") and post(topology.url, sender, "bonjour")
    assert len(user_ids(events_of(topology, sender))) == 2


async def test_the_same_id_sent_to_both_servers_at_once_is_processed_once(topology):
    sender = new_sender("both")
    async with httpx.AsyncClient(timeout=90) as client:
        one, two = await asyncio.gather(*(apost(client, url, sender, "bonjour", "same") for url in topology.rasa_urls))
    assert one and one == two
    assert user_ids(events_of(topology, sender)) == ["same"]


async def test_two_messages_of_one_chat_sent_at_once_are_processed_one_after_the_other(topology):
    for attempt in range(3):  # several tries at the race Rasa's own lock store lost
        sender = new_sender(f"order{attempt}")
        async with httpx.AsyncClient(timeout=90) as client:
            first = asyncio.ensure_future(apost(client, topology.rasa_urls[0], sender, "bonjour", "a"))
            await asyncio.sleep(0.005)
            second = asyncio.ensure_future(apost(client, topology.rasa_urls[1], sender, "merci", "b"))
            replies = await asyncio.gather(first, second)
        assert all(replies), replies
        events = events_of(topology, sender)
        assert sorted(user_ids(events)) == ["a", "b"]
        assert_not_interleaved(events)


def test_every_event_is_published_to_rabbitmq(topology):
    sender = new_sender("broker")
    post(topology.url, sender, "bonjour", "e-1")
    post(topology.url, sender, "bonjour", "e-1")  # a retry: published once
    stored = events_of(topology, sender)
    published: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        published += [e for e in rabbit("read") if e.get("sender_id") == sender]
        if len(published) >= len(stored):
            break
        time.sleep(0.5)
    assert [e["event"] for e in published] == [e["event"] for e in stored]
    assert [e.get("message_id") for e in published if e["event"] == "user"] == ["e-1"]
    assert any(e["event"] == "bot" and e.get("text") for e in published)


def with_new_model_id(model: Path, target: Path) -> str:
    """A copy of ``model`` under another model id (as a retrained model has), without training."""
    model_id = uuid.uuid4().hex
    with tarfile.open(model) as source, tarfile.open(target, "w:gz", compresslevel=1) as copy:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if member.name.lstrip("/") == "metadata.json" and data is not None:
                metadata = json.loads(data.read())
                metadata["model_id"] = model_id
                raw = json.dumps(metadata).encode()
                member.size = len(raw)
                copy.addfile(member, io.BytesIO(raw))
            else:
                copy.addfile(member, data)
    return model_id


# -- a new model on every server ----------------------------------------------------------------------------------------


def test_a_new_model_reaches_every_server_without_a_dropped_message(topology, tmp_path):
    new = tmp_path / f"assistant-topologytest-{uuid.uuid4().hex[:6]}.tar.gz"
    new_id = with_new_model_id(ensure_model(), new)
    answered: list[bool] = []
    stop = threading.Event()

    def traffic() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            try:
                answered.append(bool(post(topology.url, new_sender("swap"), "bonjour", str(number))))
            except httpx.HTTPError:
                answered.append(False)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        load_into_rasa(topology.settings, new)
    finally:
        stop.set()
        sender.join(120)
        new.unlink(missing_ok=True)
    assert answered and all(answered), f"{answered.count(False)} of {len(answered)} messages not answered"
    for url in topology.rasa_urls:
        status = status_of(url, topology.settings.rasa_auth_token)
        assert (status["model_id"], status["model_file"]) == (new_id, new.name)


# -- faults ------------------------------------------------------------------------------------------------------------

CONVERSATION = ["bonjour", "c'est quoi l'alternance", "merci", "quelles aides pour le permis", "merci", "salut"]


async def _chat(client: RasaClient, sender: str, sent: list[str], answered: list[bool], rounds: int = 1) -> None:
    for number, text in enumerate(CONVERSATION * rounds):
        message_id = f"{sender}-{number}"
        sent.append(message_id)
        answered.append(bool(await client.send(sender, text, {"channel": "telegram"}, message_id=message_id)))


async def test_a_rasa_server_killed_mid_traffic_loses_and_duplicates_nothing(topology):
    client = RasaClient(topology.url)
    senders = [new_sender("kill") for _ in range(6)]
    sent: dict[str, list[str]] = {s: [] for s in senders}
    answered: list[bool] = []
    try:
        # Enough messages (6 chats x 30) that the traffic still runs when the server dies, however
        # fast the servers are (36 messages once took under 1.5 s); killed once some are answered.
        traffic = asyncio.ensure_future(asyncio.gather(*(_chat(client, s, sent[s], answered, rounds=5)
                                                         for s in senders)))
        for _ in range(1200):
            if len(answered) >= 12 or traffic.done():
                break
            await asyncio.sleep(0.05)
        assert not traffic.done(), "the traffic should still run when the server is killed"
        topology.kill("rasa-1")
        await traffic
    finally:
        await client.aclose()
    assert answered and all(answered), f"{answered.count(False)} of {len(answered)} answers empty"
    for sender in senders:
        events = events_of(topology, sender)
        assert user_ids(events) == sent[sender], "each message once, in order"
        assert_not_interleaved(events)
    topology.restart("rasa-1")  # and back in the balancer's rotation
    assert status_of(topology.rasa_urls[0], topology.settings.rasa_auth_token)["model_id"]


async def _bot_messages(topology: Topology, texts: list[str], outage: Any) -> tuple[list[list[str]], str]:
    """``texts`` sent by the bot's own conversation code (apology, retries) while ``outage`` runs."""
    settings = replace(topology.settings, rasa_url=topology.url, rasa_timeout=4.0, rasa_retry_delays=(2.0, 4.0, 8.0, 16.0))
    client = RasaClient(topology.url)
    conversation = Conversation(settings, client)
    chat = new_sender("outage")
    seen: list[list[str]] = []
    try:
        fault = asyncio.ensure_future(asyncio.to_thread(outage))
        await asyncio.sleep(0.3)
        for text in texts:
            got: list[str] = []

            async def send(message: OutgoingMessage, got: list[str] = got) -> None:
                got.append(message.text)

            await conversation.handle(UserAction(chat, text=text, metadata={"channel": "telegram"}), send)
            seen.append(got)
        await fault
    finally:
        await client.aclose()
    return seen, chat


async def test_action_server_restart_messages_get_the_apology_then_their_answer(topology):
    def outage() -> None:
        topology.kill("actions")
        time.sleep(6)
        topology.restart("actions")

    texts = ["c'est quoi l'alternance", "quelles aides pour le permis"]
    seen, chat = await _bot_messages(topology, texts, outage)
    apology = t("bot.apology.unavailable")
    for got in seen:
        answers = [text for text in got if text != apology]
        assert answers, f"no answer after the apology: {got}"
        assert t("bot.apology.resend", text="x")[:20] not in " ".join(got)
    assert any(apology in got for got in seen), "the outage was noticed by at least one message"
    assert len(user_ids(events_of(topology, chat))) == len(texts)


async def test_zz_postgres_restart_messages_get_their_answer_nothing_lost(topology):
    """Last: restarts the machine's shared PostgreSQL cluster once."""
    texts = ["bonjour", "c'est quoi l'alternance", "merci"]
    seen, chat = await _bot_messages(topology, texts, topology.restart_postgres)
    apology = t("bot.apology.unavailable")
    for got in seen:
        assert [text for text in got if text != apology], f"no answer: {got}"
    events = events_of(topology, chat)
    assert len(user_ids(events)) == len(texts)
    assert_not_interleaved(events)
