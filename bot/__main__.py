"""``python -m bot``: Telegram if ``TELEGRAM_BOT_TOKEN`` is set, else the console chat."""

from __future__ import annotations

import asyncio
import logging

from akto_data.settings import load_dotenv, load_settings


def main() -> None:
    load_dotenv()
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.telegram_token:
        from bot.telegram_front import TelegramFront

        TelegramFront(settings).run()
    else:
        from bot.console import ConsoleFront

        try:
            asyncio.run(ConsoleFront(settings).run())
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
