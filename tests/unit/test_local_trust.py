"""Issue 10, finding 15 (part): the action server refuses any caller without the shared token.

A real action server (``python -m stack.action_server``, as the launcher starts it),
called over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from akto_data.settings import PROJECT_ROOT
from tests.unit.test_lead_delivery import free_port

TOKEN = "test-action-token-0123456789"
CALL = {"next_action": "action_lead_cancel", "sender_id": "42", "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": "42", "slots": {}, "latest_message": {}, "events": [], "paused": False,
                    "followup_action": None, "active_loop": {}, "latest_action_name": None}}


@pytest.fixture
def action_server(sqlite_db, tmp_path):
    port = free_port()
    env = {**os.environ, "ACTION_SERVER_TOKEN": TOKEN, "PYTHONPATH": str(PROJECT_ROOT)}
    log = (tmp_path / "actions.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "stack.action_server", "--port", str(port)],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, (tmp_path / "actions.log").read_text()
        assert time.monotonic() < deadline, "action server not ready"
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(15)


def test_finding_15_action_server_refuses_calls_without_the_token(action_server):
    assert httpx.post(f"{action_server}/webhook", json=CALL).status_code == 401  # before: 200, the action ran
    wrong = httpx.post(f"{action_server}/webhook", json=CALL, headers={"X-Action-Token": "guess"})
    assert wrong.status_code == 401
    assert httpx.post(f"{action_server}/webhook?token={TOKEN}", json=CALL).status_code == 401  # header only
    assert httpx.get(f"{action_server}/actions").status_code == 401
    ok = httpx.post(f"{action_server}/webhook", json=CALL, headers={"X-Action-Token": TOKEN})
    assert ok.status_code == 200 and ok.json()["responses"][0]["response"] == "utter_lead_cancelled"


def test_finding_15_action_server_does_not_start_without_a_token(sqlite_db):
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "stack.action_server", "--port", str(free_port())],
                          cwd=PROJECT_ROOT, env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "ACTION_SERVER_TOKEN" in done.stderr
