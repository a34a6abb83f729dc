"""``python -m bot``: Telegram if ``TELEGRAM_BOT_TOKEN`` is set, else the console chat."""

from __future__ import annotations

import asyncio
import contextlib

from akto_data.logs import configure_logging
from akto_data.settings import load_dotenv, load_settings


def main() -> None:
    load_dotenv()
    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.telegram_token:
        from bot.telegram_front import TelegramFront

        TelegramFront(settings).run()
    else:
        from bot.console import ConsoleFront

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(ConsoleFront(settings).run())


if __name__ == "__main__":
    main()
