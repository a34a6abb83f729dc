"""Settings read from environment variables, with embedded defaults.

The defaults run the whole assistant on one machine with no server besides the
ones we start ourselves (one SQLite file). Every variable is documented in the
README and in ``.env.example``; production overrides them (PostgreSQL, Redis,
Telegram webhook).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = PROJECT_ROOT / "content"


def var_dir() -> Path:
    """Logs and the default SQLite file (``ASSISTANT_VAR_DIR``, default ``var/``)."""
    return Path(os.environ.get("ASSISTANT_VAR_DIR") or PROJECT_ROOT / "var").resolve()


def load_dotenv(path: Path = PROJECT_ROOT / ".env") -> None:
    """Apply ``KEY=value`` lines of ``.env``; variables already exported win."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip().strip('"').strip("'")
        if value:
            os.environ.setdefault(key.strip(), value)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def default_database_url() -> str:
    """One SQLite file shared by our tables and Rasa's tracker store."""
    return f"sqlite:///{var_dir() / 'assistant.db'}"


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration, built by :func:`load_settings`."""

    database_url: str = field(default_factory=default_database_url)
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    telegram_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    # Answering budget: after this many seconds without an answer from Rasa the user
    # gets an apology (the issue asks for one within 5 s).
    rasa_timeout: float = 4.0
    # Back-off delays (seconds) of the retries made after that apology.
    rasa_retry_delays: tuple[float, ...] = (5.0, 15.0, 40.0)
    # Minimum gap between two messages sent to the same chat (Telegram asks ~1/s).
    chat_min_interval: float = 1.0
    # Per-user flood limit: at most ``flood_max_messages`` in ``flood_window`` seconds.
    flood_max_messages: int = 12
    flood_window: float = 30.0
    log_level: str = "INFO"


def load_settings() -> Settings:
    """Read the environment now (tests change it between runs)."""
    delays = os.environ.get("RASA_RETRY_DELAYS")
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_database_url(),
        rasa_url=os.environ.get("RASA_URL", Settings.rasa_url).rstrip("/"),
        action_server_url=os.environ.get("ACTION_SERVER_URL", Settings.action_server_url),
        telegram_token=os.environ.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_api_base_url=os.environ.get("TELEGRAM_API_BASE_URL") or Settings.telegram_api_base_url,
        webhook_url=os.environ.get("WEBHOOK_URL") or None,
        webhook_secret=os.environ.get("WEBHOOK_SECRET") or None,
        webhook_listen=os.environ.get("WEBHOOK_LISTEN", Settings.webhook_listen),
        webhook_port=_env_int("WEBHOOK_PORT", Settings.webhook_port),
        rasa_timeout=_env_float("RASA_TIMEOUT", Settings.rasa_timeout),
        rasa_retry_delays=tuple(float(x) for x in delays.split(",")) if delays else Settings.rasa_retry_delays,
        chat_min_interval=_env_float("CHAT_MIN_INTERVAL", Settings.chat_min_interval),
        flood_max_messages=_env_int("FLOOD_MAX_MESSAGES", Settings.flood_max_messages),
        flood_window=_env_float("FLOOD_WINDOW", Settings.flood_window),
        log_level=os.environ.get("LOG_LEVEL", Settings.log_level),
    )
