"""The production topology across simulated hosts (deploy/netns/run.sh, issue 14 section 5).

Five network namespaces on one bridge stand for five machines: the data host
(PostgreSQL, Redis, RabbitMQ of its own), two Rasa hosts, the app host (action server)
and the edge (HAProxy). Each service reaches the others only by address, over the
bridge, as across machines. What an operator would notice is checked: a conversation
through the balancer gets its answers (custom actions on another host), its state is
shared (a conversation started on one Rasa host goes on on the other), events reach the
data host's RabbitMQ, and with one Rasa host gone the balancer still answers.

Needs root and ``ip netns``; skipped elsewhere. Starts two Rasa servers (about a
minute, 2.5 GB) once for the module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from akto_data.settings import PROJECT_ROOT
from bot.rasa_client import RasaClient

SCRIPT = PROJECT_ROOT / "deploy" / "netns" / "run.sh"
NAME = "aktot"      # namespaces aktot-data, aktot-rasa1, … (not the akto-* of a manual run)
NET = "10.78.0"
EDGE = f"http://{NET}.40:5005"
RASA1, RASA2 = f"http://{NET}.21:5005", f"http://{NET}.22:5005"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "réseau simulé : il faut être root (ip netns)"
    if shutil.which("ip") is None or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "ip netns indisponible"
    missing = [tool for tool in ("haproxy", "redis-server", "rabbitmq-server") if shutil.which(tool) is None]
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if missing:
        return f"outils absents pour les hôtes simulés : {', '.join(missing)} (apt-get install …)"
    if not (PROJECT_ROOT / ".venv-rasa" / "bin" / "python").exists():
        return ".venv-rasa absent (make install)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, str]]:
    from stack.model import ensure_model

    ensure_model(lambda message: None)
    # State in /var/tmp/aktot-netns: PostgreSQL and RabbitMQ run as their own users, who
    # cannot enter pytest's private temporary folders.
    env = {**os.environ, "NETNS_NAME": NAME, "NETNS_PREFIX": NET}
    subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)
    started = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=900)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)


def say(url: str, sender: str, text: str) -> list[str]:
    response = httpx.post(f"{url}/webhooks/rest/webhook", timeout=60,
                          json={"sender": sender, "message": text, "message_id": uuid.uuid4().hex})
    response.raise_for_status()
    return [message.get("text", "") for message in response.json()]


def test_a_conversation_spans_the_hosts(hosts):
    sender = f"netns-{uuid.uuid4().hex[:8]}"
    assert any("Ici c'est ma place" in text for text in say(EDGE, sender, "slt"))
    # The territory is asked by one Rasa host and answered on the other: the tracker
    # lives on the data host; the list comes from the action server on the app host.
    assert say(RASA1, sender, "/ask_recruiting_jobs") == ["Tu habites où ? 🌴"]
    answer = say(RASA2, sender, "martinique")
    assert any("recrutent en Martinique" in text for text in answer), answer


def test_events_reach_the_data_hosts_rabbitmq(hosts):
    listing = subprocess.run(
        ["ip", "netns", "exec", f"{NAME}-data", "rabbitmqctl", "-q", "-n", "akto@localhost", "list_queues",
         "name", "messages"], capture_output=True, text=True, timeout=60)
    counts = dict(line.split("\t") for line in listing.stdout.strip().splitlines() if "\t" in line)
    assert int(counts.get("rasa_events", 0)) > 0, listing.stdout + listing.stderr


def test_the_balancer_answers_with_one_rasa_host_gone(hosts):
    pids = subprocess.run(["ip", "netns", "pids", f"{NAME}-rasa1"], capture_output=True, text=True).stdout.split()
    assert pids
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)
    # Every message answered, whichever host the balancer tried first: HAProxy re-sends a refused
    # connection, and the bot's client re-sends a 502 at once with the same message id (HAProxy
    # once answered 502 while the killed host's sockets were going away).
    async def as_the_bot(sender: str) -> list[dict]:
        client = RasaClient(EDGE)
        try:
            return await client.send(sender, "slt", {}, message_id=uuid.uuid4().hex)
        finally:
            await client.aclose()

    for attempt in range(6):
        replies = asyncio.run(as_the_bot(f"netns-down-{attempt}-{uuid.uuid4().hex[:6]}"))
        assert any("Ici c'est ma place" in reply.get("text", "") for reply in replies), replies
