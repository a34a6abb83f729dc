"""Which earlier replies a retried message id gets (rasa_components/serving/idempotency.py), in Rasa's Python.

The end-to-end behaviour is in ``test_topology.py``; here the rule on a tracker's events:
the bot messages after the user event with that id, up to the next user message; none for
an unknown id; and an id seen more than a day ago is another message (ids may repeat later).
"""

from __future__ import annotations

import json
import os
import subprocess

from akto_data.settings import PROJECT_ROOT
from stack.services import RASA_PYTHON

SCRIPT = r"""
import json, time
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa_components.serving.idempotency import replies_after
now = time.time()
events = [UserUttered("bonjour", message_id="a", timestamp=now - 60), BotUttered("Salut", timestamp=now - 59),
          BotUttered("Le menu", {"buttons": [{"title": "Les aides", "payload": "/ask_aids"}]}, timestamp=now - 59),
          ActionExecuted("action_listen"), UserUttered("merci", message_id="b", timestamp=now - 30),
          BotUttered("Avec plaisir", timestamp=now - 29)]
old = [UserUttered("bonjour", message_id="a", timestamp=now - 2 * 86400), BotUttered("Salut")]
texts = lambda replies: None if replies is None else [(r["text"], r.get("buttons")) for r in replies]
print(json.dumps({"a": texts(replies_after(events, "a")), "b": texts(replies_after(events, "b")),
                  "unknown": texts(replies_after(events, "z")), "old": texts(replies_after(old, "a"))}))
"""


def test_a_retry_gets_the_replies_of_its_first_processing_and_nothing_else():
    done = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["a"] == [["Salut", None], ["Le menu", [{"title": "Les aides", "payload": "/ask_aids"}]]]
    assert result["b"] == [["Avec plaisir", None]]
    assert result["unknown"] is None
    assert result["old"] is None  # a day later the same id is a new message
