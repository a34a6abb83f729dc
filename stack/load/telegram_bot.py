"""``python -m stack.load.telegram_bot``: the product's Telegram front polling the emulator.

The same :class:`bot.telegram_front.TelegramFront` as ``python -m bot``, built with the
emulator bridge (:mod:`stack.emulator`) on its HTTP requests, in a process of its own so
``make load --telegram`` can read the bot's CPU time apart from the load client's.
"""

from __future__ import annotations

from telegram import Update

from akto_data.logs import configure_logging
from akto_data.settings import load_settings
from bot.telegram_front import TelegramFront
from stack.emulator import EmulatorBridge


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    front = TelegramFront(settings)
    app = front.build(request=EmulatorBridge(), updates_request=EmulatorBridge())
    app.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.05, timeout=0)


if __name__ == "__main__":
    main()
