"""Rasa's answers turned into messages any front can render.

Rasa's REST channel returns a list of dicts with ``text``, ``buttons``, ``image``
and ``custom`` keys. We keep that meaning but not the transport details: a front
gets :class:`OutgoingMessage` objects whose text already fits Telegram's limit.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from akto_data.i18n import text as t

#: Telegram refuses messages longer than this (characters after entity parsing).
TELEGRAM_TEXT_LIMIT = 4096


@dataclass(frozen=True)
class Button:
    """A choice offered to the user; ``payload`` is what Rasa receives when chosen."""

    title: str
    payload: str


@dataclass(frozen=True)
class OutgoingMessage:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)

    def html(self) -> str:
        """The text escaped for Telegram's HTML parse mode."""
        return html.escape(self.text, quote=False)


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters.

    Cuts at a paragraph break if possible, else a line break, else a space, and
    only as a last resort inside a word, so every piece reads on its own.
    """
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def from_rasa(responses: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """Convert Rasa's answer to as few messages as possible.

    Rasa's REST channel cuts every text at blank lines into separate messages; on
    Telegram that would mean one bubble per paragraph, each paced a second apart.
    Consecutive texts are joined back (blank line between them) until a response
    with buttons closes the group: the buttons go under the last piece.
    """
    messages: list[OutgoingMessage] = []
    group: list[str] = []

    def flush(buttons: tuple[Button, ...] = ()) -> None:
        body = "\n\n".join(group)
        group.clear()
        if not body and not buttons:
            return
        pieces = split_text(body) if body else ["👇"]
        messages.extend(OutgoingMessage(text=piece) for piece in pieces[:-1])
        messages.append(OutgoingMessage(text=pieces[-1], buttons=buttons))

    for response in responses:
        if response.get("text"):
            group.append(str(response["text"]))
        if response.get("image"):
            group.append(t("bot.image_link", url=response["image"]))
        custom = response.get("custom")
        if isinstance(custom, dict) and custom.get("text"):
            group.append(str(custom["text"]))
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in response.get("buttons") or []
            if b.get("payload")
        )
        if buttons:
            flush(buttons)
    flush()
    return messages
