"""Console chat: the assistant in a terminal, on the Telegram front's code path.

Used by ``make run`` when no ``TELEGRAM_BOT_TOKEN`` is set. Input goes through the
same :class:`~bot.conversation.Conversation` as Telegram (same filter, commands,
apology and retry); buttons are printed as numbered choices and typing a number
presses the button.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from typing import TextIO

from akto_data.chats import touch_chat
from akto_data.db import create_schema
from akto_data.i18n import text as t
from akto_data.settings import Settings
from bot.conversation import Conversation, UserAction
from bot.rasa_client import RasaClient
from bot.replies import Button, OutgoingMessage


class ConsoleFront:
    def __init__(self, settings: Settings, out: TextIO = sys.stdout) -> None:
        self.settings = settings
        self.out = out
        self.rasa = RasaClient(settings.rasa_url)
        self.conversation = Conversation(settings, self.rasa)
        self.chat_id = f"console-{getpass.getuser()}"
        self.choices: list[Button] = []

    async def send(self, message: OutgoingMessage) -> None:
        print(f"\n🤖 {message.text}", file=self.out)
        if message.buttons:
            self.choices = list(message.buttons)
            print(t("console.choices"), file=self.out)
            for number, button in enumerate(message.buttons, start=1):
                print(f"  {number}. {button.title}", file=self.out)
        self.out.flush()

    def action_for(self, line: str) -> UserAction:
        """What a typed line means: a choice number, one of our commands, or text."""
        meta = {"channel": "console", "chat_id": self.chat_id, "language": "fr"}
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.choices):
            button = self.choices[int(stripped) - 1]
            self.choices = []
            return UserAction(self.chat_id, button_payload=button.payload, metadata=meta)
        if stripped.startswith("/"):
            parts = stripped[1:].split() or [""]
            return UserAction(self.chat_id, command=parts[0].lower(), command_args=tuple(parts[1:]), metadata=meta)
        return UserAction(self.chat_id, text=line, metadata=meta)

    @staticmethod
    def _read_lines(lines: TextIO) -> asyncio.Queue[str]:
        """Lines of ``lines`` as they come, read by a daemon thread.

        A daemon thread (not ``asyncio.to_thread``) so that Ctrl-C does not wait for a
        ``readline`` that only returns when the user types something.
        """
        queue: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump() -> None:
            while True:
                line = lines.readline()
                loop.call_soon_threadsafe(queue.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=pump, name="console-input", daemon=True).start()
        return queue

    async def run(self, lines: TextIO = sys.stdin) -> None:
        await asyncio.to_thread(create_schema)
        print(t("console.welcome"), file=self.out, flush=True)
        incoming = self._read_lines(lines)
        try:
            while True:
                print("\n🙂 > ", end="", file=self.out, flush=True)
                line = await incoming.get()
                if not line:
                    break
                if not line.strip():
                    continue
                action = self.action_for(line)
                await asyncio.to_thread(touch_chat, self.chat_id, language="fr")
                await self.conversation.handle(action, self.send)
        finally:
            await self.rasa.aclose()
