"""``make load ARGS=--telegram``: the load through the bot and the Telegram emulator (filled below)."""

from __future__ import annotations

import argparse


def telegram_run(args: argparse.Namespace) -> int:
    print("--telegram: pas encore disponible")
    return 2
