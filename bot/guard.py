"""Protections on what users send before it reaches Rasa.

Rasa 3.6 reads any text starting with ``/`` as ``/intent{"slot": "value"}`` at
confidence 1.0, and this cannot be switched off. Only our own buttons and the
commands we define may trigger intents, so typed text that starts with a slash is
never forwarded. The flood limit keeps one user from monopolising the assistant.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from akto_data.chats import recognised_source

#: Deep-link payloads allowed by Telegram: 1-64 chars of A-Z, a-z, 0-9, _ and -.
DEEP_LINK_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_rasa_payload(text: str) -> bool:
    """True if Rasa would parse ``text`` as an intent payload.

    Rasa strips the message before testing for the ``/`` prefix, so leading
    whitespace does not make a payload harmless.
    """
    return text.strip().startswith("/")


def clean_deep_link(payload: str | None) -> str | None:
    """The deep-link payload if it has Telegram's allowed shape and is one of our links
    (:func:`akto_data.chats.recognised_source`), else ``None``: whatever else follows
    ``/start`` (a phone number, a name) never reaches Rasa's memory nor our tables."""
    if payload and DEEP_LINK_PAYLOAD.match(payload):
        return recognised_source(payload)
    return None


class Admission(Enum):
    """What to do with an incoming update of a user."""

    ACCEPT = "accept"
    WARN = "warn"  # first message over the limit: answer politely once
    DROP = "drop"  # further messages over the limit: ignore


@dataclass
class FloodLimiter:
    """Sliding-window limit per user, in memory (one bot process serves a token)."""

    max_messages: int
    window: float
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, deque[float]] = field(default_factory=dict)
    _warned: dict[str, bool] = field(default_factory=dict)

    def admit(self, user_key: str) -> Admission:
        now = self.clock()
        events = self._events.setdefault(user_key, deque())
        while events and now - events[0] > self.window:
            events.popleft()
        if len(events) < self.max_messages:
            events.append(now)
            self._warned[user_key] = False
            return Admission.ACCEPT
        if not self._warned.get(user_key):
            self._warned[user_key] = True
            return Admission.WARN
        return Admission.DROP

    def forget_idle(self) -> None:
        """Drop users with no recent message, so memory stays bounded."""
        now = self.clock()
        for key in [k for k, ev in self._events.items() if not ev or now - ev[-1] > self.window]:
            self._events.pop(key, None)
            self._warned.pop(key, None)
