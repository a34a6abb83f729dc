"""``make run`` without a token: the console chat, on the Telegram front's code path."""

from __future__ import annotations

import io
import os
import select
import signal
import socket
import subprocess
import sys
import time

import httpx

from akto_data.settings import PROJECT_ROOT
from bot.console import ConsoleFront
from tests.e2e.conftest import free_port


async def test_console_front_greets_and_a_number_picks_a_menu_entry(rasa_stack, base_settings):
    out = io.StringIO()
    await ConsoleFront(base_settings, out=out).run(io.StringIO("slt\n3\n"))
    transcript = out.getvalue()
    assert "assistant « Ici c'est ma place »" in transcript
    assert "  3. 💶 Les aides" in transcript
    assert "Tu es déjà en apprentissage ?" in transcript.split("  3. 💶 Les aides", 1)[1]
    assert "  2. 🔎 Pas encore" in transcript  # the aid chat's choices, numbered in turn


def _read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} not printed within {timeout}s; got:\n{seen[-2000:]}"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536).decode(errors="replace")
            assert chunk, f"process ended before {marker!r}:\n{seen[-2000:]}"
            seen += chunk
    return seen


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_run_command_starts_everything_chats_and_stops_cleanly(rasa_stack, e2e_dir):
    rasa_port, action_port, links_port, console_port = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, RASA_URL=f"http://127.0.0.1:{rasa_port}",
               ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook", LEAD_LINKS_PORT=str(links_port),
               CONSOLE_PORT=str(console_port),
               DATABASE_URL=f"sqlite:///{e2e_dir / 'run.db'}", ASSISTANT_VAR_DIR=str(e2e_dir / "run-var"))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "stack.run"], cwd=PROJECT_ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        startup = _read_until(process, "🙂 > ", timeout=240)
        assert "rasa     prêt en" in startup and f"http://127.0.0.1:{rasa_port}" in startup
        assert "Assistant prêt en" in startup
        assert "console  prêt en" in startup and f"http://127.0.0.1:{console_port}" in startup  # staff console
        assert "Connexion" in httpx.get(f"http://127.0.0.1:{console_port}/login").text
        process.stdin.write(b"slt\n")
        process.stdin.flush()
        menu = _read_until(process, "5. ❓ Poser une question", timeout=30)
        assert "Salut" in menu or "Hello" in menu
        process.stdin.write(b"2\n")
        process.stdin.flush()
        _read_until(process, "7. Saint-Barthélemy", timeout=30)  # where do you live? (numbered)
        process.stdin.write(b"1\n")
        process.stdin.flush()
        answer = _read_until(process, "vérifié le", timeout=30)
        assert "qui recrutent en Martinique" in answer
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        assert "tout est arrêté proprement" in os.read(process.stdout.fileno(), 65536).decode()
        assert not _port_open(rasa_port) and not _port_open(action_port) and not _port_open(console_port)
    finally:
        if process.poll() is None:
            process.kill()
