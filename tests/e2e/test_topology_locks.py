"""The topology's Redis lock store (rasa_components/serving/locks.py), in Rasa's own Python.

Two "servers" (two lock stores in two threads, each with its own event loop and Redis
connection) take the lock of the same conversation over and over: their critical sections
must never overlap. A holder that stops renewing (a killed server) frees the chat after
the lifetime; a live holder keeps it past the lifetime. Redis db ``TOPOLOGY_REDIS_URL``
(default 3), keys under the prefix ``topologytest``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from urllib.parse import urlparse

import pytest

from akto_data.settings import PROJECT_ROOT
from stack.services import RASA_PYTHON

REDIS_URL = os.environ.get("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/3")

SCRIPT = r"""
import asyncio, json, sys, threading, time, uuid
from rasa.utils.endpoints import EndpointConfig
from rasa_components.serving.locks import AtomicRedisLockStore

host, port, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def store():
    return AtomicRedisLockStore(EndpointConfig(url=host, port=port, db=db, key_prefix="topologytest"))

def exclusive(rounds=40):
    conversation = uuid.uuid4().hex
    spans = []
    def server():
        lock_store = store()
        async def work():
            for _ in range(rounds):
                async with lock_store.lock(conversation, lock_lifetime=5):
                    start = time.monotonic()
                    await asyncio.sleep(0.003)
                    spans.append((start, time.monotonic()))
        asyncio.run(work())
    threads = [threading.Thread(target=server) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    spans.sort()
    overlaps = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
    return {"sections": len(spans), "overlaps": overlaps}

async def renewed():
    conversation = uuid.uuid4().hex
    holder, other = store(), store()
    got_at = {}
    async def hold():
        async with holder.lock(conversation, lock_lifetime=1.0):
            await asyncio.sleep(2.5)  # longer than the lifetime: kept by renewal
        got_at["released"] = time.monotonic()
    async def wait():
        await asyncio.sleep(0.2)
        async with other.lock(conversation, lock_lifetime=1.0):
            got_at["other"] = time.monotonic()
    await asyncio.gather(hold(), wait())
    return got_at["other"] >= got_at["released"] - 0.05

async def dead_holder():
    conversation = uuid.uuid4().hex
    store().issue_ticket(conversation, 1.0)  # a server that took the lock and died: never renewed
    start = time.monotonic()
    async with store().lock(conversation, lock_lifetime=1.0):
        return time.monotonic() - start

print(json.dumps({"exclusive": exclusive(), "renewed": asyncio.run(renewed()),
                  "dead_wait": asyncio.run(dead_holder())}))
"""


def test_the_lock_store_serialises_a_chat_across_servers_and_frees_a_dead_servers_lock():
    parsed = urlparse(REDIS_URL)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2).close()
    except OSError:
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set TOPOLOGY_REDIS_URL)")
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, parsed.hostname or "127.0.0.1", str(parsed.port or 6379),
         parsed.path.strip("/") or "0"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
        timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exclusive"] == {"sections": 80, "overlaps": 0}
    assert result["renewed"], "a live server kept its lock past the lifetime"
    assert 0.5 < result["dead_wait"] < 3.0, result  # freed about one lifetime after the dead server's ticket
