"""Test-side helpers for the ``telegram-test-api`` emulator.

:class:`EmulatorBridge` (now in :mod:`stack.emulator`, shared with ``make load --telegram``)
bridges the emulator's known gaps on the bot's requests only (the product talks to the
real Bot API unchanged).
(``sendChatAction``, ``setMyCommands`` and ``deleteMyCommands`` are answered and recorded by
tests/emulator/server.js, read back with :meth:`EmulatedUser.bot_calls`.)

:class:`EmulatedUser` plays a young person: sends text and commands, presses inline
buttons, reads the bot's replies through the emulator's client API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from stack.emulator import EmulatorBridge

__all__ = ["BotMessage", "EmulatedUser", "EmulatorBridge", "new_user_id"]


@dataclass
class BotMessage:
    message_id: int
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, callback_data)

    def button(self, title_part: str) -> tuple[str, str]:
        for title, data in self.buttons:
            if title_part in title:
                return title, data
        raise AssertionError(f"no button with {title_part!r} in {self.buttons}")


_ids = itertools.count(1000)


class EmulatedUser:
    """A Telegram user in a private chat with the bot ``token``."""

    def __init__(self, api_url: str, token: str, user_id: int, first_name: str = "Léa") -> None:
        self.api = api_url
        self.token = token
        self.user_id = user_id
        self.first_name = first_name
        self.http = httpx.AsyncClient(timeout=10)

    def _common(self) -> dict[str, Any]:
        return {
            "botToken": self.token,
            "from": {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": "fr"},
            "chat": {"id": self.user_id, "type": "private", "first_name": self.first_name},
            "date": int(time.time()),
        }

    async def say(self, text: str, **extra: Any) -> None:
        message = {**self._common(), "text": text, **extra}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        response = await self.http.post(f"{self.api}/sendMessage", json=message)
        response.raise_for_status()

    async def send_raw(self, **fields: Any) -> None:
        """A message with other content than text (photo, voice, ...)."""
        response = await self.http.post(f"{self.api}/sendMessage", json={**self._common(), **fields})
        response.raise_for_status()

    async def press(self, message: BotMessage, title_part: str) -> None:
        _title, data = message.button(title_part)
        common = self._common()
        callback = {
            "botToken": self.token,
            "from": common["from"],
            "message": {"message_id": message.message_id, "chat": common["chat"], "date": common["date"],
                        "text": message.text, "from": {"id": 666, "is_bot": True, "first_name": "Bot"}},
            "data": data,
        }
        response = await self.http.post(f"{self.api}/sendCallback", json=callback)
        response.raise_for_status()

    async def _fetch(self) -> list[BotMessage]:
        response = await self.http.post(f"{self.api}/getUpdates", json={"token": self.token, "chatId": self.user_id})
        response.raise_for_status()
        messages = []
        for item in response.json().get("result", []):
            message = item["message"]
            markup = message.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons = [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]
            messages.append(BotMessage(item["messageId"], message.get("text", ""), buttons))
        return messages

    async def replies(self, *, count: int = 1, timeout: float = 20.0, settle: float = 0.6) -> list[BotMessage]:
        """Wait for at least ``count`` messages, then for the bot to fall silent ``settle`` s."""
        received: list[BotMessage] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            new = await self._fetch()
            if new:
                received.extend(new)
                last_new = time.monotonic()
            elif len(received) >= count and time.monotonic() - last_new >= settle:
                return received
            await asyncio.sleep(0.1)
        if len(received) >= count:
            return received
        raise AssertionError(f"expected {count} replies within {timeout}s, got {[m.text for m in received]}")

    async def history_text(self, message_id: int) -> str:
        response = await self.http.post(f"{self.api}/getUpdatesHistory", json={"token": self.token})
        for item in response.json()["result"]:
            if item.get("messageId") == message_id and "text" in item.get("message", {}):
                return item["message"]["text"]
        raise AssertionError(f"message {message_id} not found")

    async def bot_calls(self, method: str) -> list[dict[str, Any]]:
        """The bot's calls of ``method`` the emulator recorded (sendChatAction, setMyCommands...),
        each ``{"params": ..., "time": ms}``, for every chat of this bot."""
        response = await self.http.post(f"{self.api}/botCalls", json={"token": self.token, "method": method})
        response.raise_for_status()
        return list(response.json()["result"])

    async def aclose(self) -> None:
        await self.http.aclose()


def new_user_id() -> int:
    return next(_ids)
