"""A chat with Rasa through its REST channel, sent exactly as the bot sends it.

The bot posts each message to ``/webhooks/rest/webhook`` with the Telegram metadata
(:meth:`bot.telegram_front.TelegramFront.metadata`) and a button press as the
button's payload. Driving Rasa this way runs the real model, the real action server
and the real catalogue, without the Telegram emulator's pacing: fast enough to walk
every multi-step flow from every starting context.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

_senders = itertools.count(1)


@dataclass
class Reply:
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def button(self, title_part: str) -> str:
        """The payload of the first button whose title contains ``title_part`` (case-insensitive)."""
        for title, payload in self.buttons:
            if title_part.lower() in title.lower():
                return payload
        raise AssertionError(f"no button {title_part!r} in {[title for title, _ in self.buttons]} ({self.text!r})")


class RestChat:
    """One young person talking to Rasa as the bot would relay them."""

    def __init__(self, rasa_url: str, *, first_name: str = "Léa", username: str | None = None,
                 prefix: str = "flow") -> None:
        self.sender = f"{prefix}-{next(_senders)}-{id(self) % 100000}"
        self.url = f"{rasa_url.rstrip('/')}/webhooks/rest/webhook"
        self.metadata = {"channel": "telegram", "chat_id": None, "language": "fr", "first_name": first_name,
                         "username": username}
        self.transcript: list[tuple[str, list[Reply]]] = []

    def send(self, message: str) -> list[Reply]:
        response = httpx.post(self.url, json={"sender": self.sender, "message": message, "metadata": self.metadata},
                              timeout=60.0)
        response.raise_for_status()
        replies = [Reply(item.get("text") or "", [(b["title"], b["payload"]) for b in item.get("buttons") or []])
                   for item in response.json()]
        self.transcript.append((message, replies))
        return replies

    say = send

    def press(self, reply: Reply, title_part: str) -> list[Reply]:
        return self.send(reply.button(title_part))

    def dump(self) -> str:
        """The conversation so far, for assertion messages."""
        lines = []
        for said, replies in self.transcript:
            lines.append(f"> {said}")
            lines.extend(f"< {r.text[:160]!r} {[t for t, _ in r.buttons]}" for r in replies)
        return "\n".join(lines)


#: How to answer one question: press a button whose title contains the text, or type it.
@dataclass(frozen=True)
class Answer:
    question: str  # a regular expression found in the question's text
    name: str  # what is asked, for the assertions ("age", "territory"…)
    press: str | None = None
    type: str | None = None


@dataclass
class FlowRun:
    asked: list[str]
    final: list[Reply]
    steps: int
    chat: RestChat


def run_flow(chat: RestChat, first: list[Reply], answers: list[Answer], done: Callable[[list[Reply]], bool],
             max_steps: int) -> FlowRun:
    """Answer each question the flow asks until ``done``; fail if it takes more than ``max_steps`` answers.

    Fails too when a reply is neither a known question nor the end: a flow that
    wanders off (a fallback, a restart) is a defect, not something to skip.
    """
    replies, asked = first, []
    for step in range(max_steps + 1):
        if done(replies):
            return FlowRun(asked, replies, step, chat)
        if step == max_steps:
            break
        question = next((r for r in reversed(replies) if r.text), None)
        assert question is not None, f"empty answer from the assistant\n{chat.dump()}"
        answer = next((a for a in answers if re.search(a.question, question.text, re.IGNORECASE)), None)
        assert answer is not None, f"unexpected reply {question.text!r}\n{chat.dump()}"
        asked.append(answer.name)
        replies = chat.press(question, answer.press) if answer.press is not None else chat.say(answer.type or "")
    raise AssertionError(f"the flow did not end within {max_steps} answers (asked {asked})\n{chat.dump()}")


def last(replies: list[Reply]) -> Reply:
    return replies[-1]


def lead_form_to_cfa_choice(chat: RestChat, occupation: str) -> list[Reply]:
    """The lead form answered as Léa, 19, from Le Lamentin in Martinique, CAP holder, starting
    at the next school year, no employer, staying home, up to the buttons of the CFAs for
    ``occupation`` (the journey several e2e tests share before they diverge)."""
    r = chat.say("je veux être contacté par un CFA")
    r = chat.press(last(r), "Léa")
    r = chat.say("19")
    r = chat.press(last(r), "Martinique")
    r = chat.say("lamentin")
    r = chat.say(occupation)
    r = chat.press(last(r), "CAP / BEP")
    r = chat.press(last(r), "À la rentrée")
    r = chat.press(last(r), "Pas encore")
    return chat.press(last(r), "Non, je reste")


def lead_form_contact_to_recap(chat: RestChat, replies: list[Reply], phone: str = "0696 12 34 56") -> list[Reply]:
    """From the contact question to the recap and its consent question: by phone, for the pay."""
    r = chat.press(last(replies), "téléphone")
    r = chat.say(phone)
    r = chat.press(last(r), "le salaire")
    r = chat.press(last(r), "C'est tout")
    if any("Pas de message" in title for title, _ in last(r).buttons):
        r = chat.press(last(r), "Pas de message")
    return r
