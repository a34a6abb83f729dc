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


def _env_urls(name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses, trailing slashes dropped."""
    return tuple(url.strip().rstrip("/") for url in os.environ.get(name, "").split(",") if url.strip())


def default_database_url() -> str:
    """One SQLite file shared by our tables and Rasa's tracker store."""
    return f"sqlite:///{var_dir() / 'assistant.db'}"


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration, built by :func:`load_settings`."""

    database_url: str = field(default_factory=default_database_url)
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    # Shared secrets of the local services (generated at each start by the launcher when
    # unset): Rasa's HTTP API (``--auth-token``) and the action server's webhook.
    rasa_auth_token: str | None = field(default=None, repr=False)
    action_server_token: str | None = field(default=None, repr=False)
    telegram_token: str | None = field(default=None, repr=False)  # never printed with the settings
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
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
    # Presses of our buttons have their own, looser limit in the same window.
    flood_max_presses: int = 30
    # Set: several bot processes share the flood limits, the per-chat order and pacing and
    # Telegram's global budget through this Redis (akto_data.shared_state); unset: in memory.
    redis_url: str | None = field(default=None, repr=False)
    # Production topology (stack/topology.py, README "Production topology"): RabbitMQ of Rasa's
    # event broker; how many Rasa and action servers ``make run`` starts behind the balancer
    # (RASA_URL is then the balancer, ACTION_SERVER_URL too with several action servers); each
    # Rasa server's own address (``PUT /model`` goes to every one; empty: OS-picked ports on this
    # machine, or RASA_URL alone); the balancer's runtime API, to take a server out of rotation
    # while it loads a model; the queue and exchange every Rasa event is published to.
    rabbitmq_url: str | None = field(default=None, repr=False)
    rasa_servers: int = 1
    rasa_server_urls: tuple[str, ...] = ()
    action_servers: int = 1
    action_server_urls: tuple[str, ...] = ()
    balancer_admin: str | None = None
    events_queue: str = "rasa_events"
    events_exchange: str = "rasa-exchange"
    log_level: str = "INFO"
    # Signed links in lead e-mails point here (the status page of the outbox worker).
    lead_links_base_url: str = "http://127.0.0.1:8090"
    lead_links_listen: str = "127.0.0.1"
    lead_links_port: int = 8090
    # Leads are anonymised this many months after they were sent.
    lead_retention_months: int = 24
    # Conversations (Rasa's events, chat profile) are deleted this many days after the
    # chat's last message; unanswered messages kept for staff review, after this many days.
    conversation_retention_days: int = 180
    unanswered_retention_days: int = 90
    # How often the bot looks for status notices to send to young people (seconds).
    lead_notice_interval: float = 5.0
    # Staff console (web/): where it listens, and whether it sits behind TLS (Secure cookies).
    console_listen: str = "127.0.0.1"
    console_port: int = 8080
    console_https: bool = False
    #: Public address of the console and the CFA portal, for links in e-mails (magic links,
    #: "Voir la demande"). Default: where the console listens.
    portal_base_url: str = "http://127.0.0.1:8080"
    #: Days after the lead reached the CFA before the young person is asked "Le CFA t'a contacté ?".
    lead_followup_days: int = 7
    # Live takeover by an advisor (akto_data/takeover): the assistant resumes after this many
    # minutes without a message either way; advisors answer on weekdays (not public holidays)
    # between these local hours of the young person's territory; the bot looks for advisor
    # messages to send this often (seconds).
    takeover_silence_minutes: int = 30
    takeover_hours: str = "08:00-17:00"
    takeover_poll_interval: float = 1.0
    # Retraining from the console: the tree holding config.yml, domain/, nlu/, stories/, the
    # held-out sets (tests/nlu/heldout*.yml) and content/; staged examples are written under it
    # and new models go to its models/ folder. Tests point it at a small copy.
    training_dir: Path = PROJECT_ROOT


def load_settings() -> Settings:
    """Read the environment now (tests change it between runs)."""
    delays = os.environ.get("RASA_RETRY_DELAYS")
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_database_url(),
        rasa_url=os.environ.get("RASA_URL", Settings.rasa_url).rstrip("/"),
        action_server_url=os.environ.get("ACTION_SERVER_URL", Settings.action_server_url),
        rasa_auth_token=os.environ.get("RASA_AUTH_TOKEN") or None,
        action_server_token=os.environ.get("ACTION_SERVER_TOKEN") or None,
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
        flood_max_presses=_env_int("FLOOD_MAX_PRESSES", Settings.flood_max_presses),
        redis_url=os.environ.get("REDIS_URL") or None,
        rabbitmq_url=os.environ.get("RABBITMQ_URL") or None,
        rasa_servers=_env_int("RASA_SERVERS", Settings.rasa_servers),
        rasa_server_urls=_env_urls("RASA_SERVER_URLS"),
        action_servers=_env_int("ACTION_SERVERS", Settings.action_servers),
        action_server_urls=_env_urls("ACTION_SERVER_URLS"),
        balancer_admin=os.environ.get("BALANCER_ADMIN") or None,
        events_queue=os.environ.get("RASA_EVENTS_QUEUE") or Settings.events_queue,
        events_exchange=os.environ.get("RASA_EVENTS_EXCHANGE") or Settings.events_exchange,
        log_level=os.environ.get("LOG_LEVEL", Settings.log_level),
        lead_links_base_url=os.environ.get("LEAD_LINKS_BASE_URL", Settings.lead_links_base_url).rstrip("/"),
        lead_links_listen=os.environ.get("LEAD_LINKS_LISTEN", Settings.lead_links_listen),
        lead_links_port=_env_int("LEAD_LINKS_PORT", Settings.lead_links_port),
        lead_retention_months=_env_int("LEAD_RETENTION_MONTHS", Settings.lead_retention_months),
        conversation_retention_days=_env_int("CONVERSATION_RETENTION_DAYS", Settings.conversation_retention_days),
        unanswered_retention_days=_env_int("UNANSWERED_RETENTION_DAYS", Settings.unanswered_retention_days),
        lead_notice_interval=_env_float("LEAD_NOTICE_INTERVAL", Settings.lead_notice_interval),
        console_listen=os.environ.get("CONSOLE_LISTEN", Settings.console_listen),
        console_port=_env_int("CONSOLE_PORT", Settings.console_port),
        console_https=os.environ.get("CONSOLE_HTTPS", "") in ("1", "true", "yes"),
        portal_base_url=(os.environ.get("PORTAL_BASE_URL")
                         or f"http://{os.environ.get('CONSOLE_LISTEN', Settings.console_listen)}:"
                            f"{_env_int('CONSOLE_PORT', Settings.console_port)}").rstrip("/"),
        lead_followup_days=_env_int("LEAD_FOLLOWUP_DAYS", Settings.lead_followup_days),
        takeover_silence_minutes=_env_int("TAKEOVER_SILENCE_MINUTES", Settings.takeover_silence_minutes),
        takeover_hours=os.environ.get("TAKEOVER_HOURS") or Settings.takeover_hours,
        takeover_poll_interval=_env_float("TAKEOVER_POLL_INTERVAL", Settings.takeover_poll_interval),
        training_dir=Path(os.environ.get("TRAINING_DATA_DIR") or PROJECT_ROOT).resolve(),
    )


#: Shortest accepted key of the signed status links (bytes); shorter keys are refused.
LEAD_LINKS_SECRET_MIN = 16


def lead_links_secret() -> bytes:
    """Key of the signed status links (``LEAD_LINKS_SECRET``); see :func:`persistent_secret`."""
    return persistent_secret("LEAD_LINKS_SECRET", "lead_links.secret")


def persistent_secret(variable: str, file_name: str) -> bytes:
    """A signing key from ``variable``, else one random key created in ``var/`` and kept.

    Kept so that what was signed before a restart (links, console sessions) still
    verifies; several machines must share the variable. The file is written whole or
    not at all (temporary file, fsync, rename, under a lock shared by every process):
    a crash once left it empty, and links signed with an empty key were accepted. An
    empty or short key is refused, never used.
    """
    configured = os.environ.get(variable)
    if configured:
        if len(configured.encode()) < LEAD_LINKS_SECRET_MIN:
            raise ValueError(f"{variable} trop court : au moins {LEAD_LINKS_SECRET_MIN} caractères")
        return configured.encode()
    path = var_dir() / file_name
    key = _read_key(path)
    if key is not None:
        return key
    import secrets

    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        key = _read_key(path)  # another process may have written it while we waited
        if key is None:
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            key = _read_key(path)
    if key is None:
        raise RuntimeError(f"clé illisible : {path}")
    return key


def _read_key(path: Path) -> bytes | None:
    """The key kept in ``path``, or None when the file is missing, empty or too short to be one of ours."""
    try:
        key = path.read_text().strip().encode()
    except FileNotFoundError:
        return None
    return key if len(key) >= LEAD_LINKS_SECRET_MIN else None
