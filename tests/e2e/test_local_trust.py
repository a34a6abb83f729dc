"""Issue 10, finding 15 (part): local trust. Rasa's HTTP API answers only with the
token the launcher generated, the token is not on any command line, and the stack
(Rasa calling the action server with its own token) still works."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.rest_chat import RestChat


def test_finding_15_rasa_api_refuses_calls_without_the_token(rasa_stack, base_settings):
    url, token = base_settings.rasa_url, base_settings.rasa_auth_token
    assert token and rasa_stack.settings.rasa_auth_token == token
    chat = RestChat(url, prefix="trust")
    assert chat.say("slt")  # the REST channel (what the bot uses) needs no token

    # Before: any local process could read a conversation or replace the model.
    assert httpx.get(f"{url}/conversations/{chat.sender}/tracker").status_code == 401
    assert httpx.get(f"{url}/conversations/{chat.sender}/tracker", params={"token": "guess"}).status_code == 401
    assert httpx.put(f"{url}/model", json={"model_file": "/tmp/other.tar.gz"}).status_code == 401
    assert httpx.get(f"{url}/status").status_code == 401
    tracker = httpx.get(f"{url}/conversations/{chat.sender}/tracker", params={"token": token})
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == chat.sender

    # Neither secret is readable by other users in the process list (ps shows cmdline, not environ).
    for service in rasa_stack.services:
        cmdline = Path(f"/proc/{service.process.pid}/cmdline").read_bytes().decode(errors="replace")
        assert token not in cmdline and rasa_stack.settings.action_server_token not in cmdline, service.name


def test_finding_15_rasa_reaches_the_guarded_action_server(rasa_stack, base_settings):
    """A custom action runs: Rasa sends the action server's token (endpoints.yml header)."""
    action_url = base_settings.action_server_url
    assert httpx.post(action_url, json={}).status_code == 401  # nobody else gets in
    chat = RestChat(base_settings.rasa_url, prefix="trust")
    replies = chat.say("je veux être contacté par un CFA")  # action_lead_intro, then the form's question
    assert any("Quelques questions rapides" in r.text for r in replies), chat.dump()
