"""Masking of contact details in free text that we store or log.

Young people sometimes type their phone number or e-mail anywhere in the chat;
review logs and application logs must not keep them in clear.

Standard library only and Python 3.10-compatible: Rasa's own process (Python 3.10,
``.venv-rasa``, none of our dependencies) imports it through
:mod:`akto_data.logs` from ``stack/rasa_logging.yml``.

The patterns follow what the lead form accepts (``akto_data.leads.contact``):
``0696 12 34 56``, ``06/96/12/34/56``, ``(0596) 12 34 56``, ``0696123456``,
``+596 696 12 34 56``, ``+33 (0)6 12 34 56 78``, ``00594 694…``, and a mobile
without its leading 0 (``696 12 34 56``). They are anchored on that shape (a 0 and
nine digits, or ``+``/``00`` and a country code) rather than on "many digits", so
timestamps (``2026-11-27 12:00:00``), dates and durations in a log line stay readable.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
#: One more digit, after at most three separators (space, tab, dot, dash, slash, brackets).
_NEXT = r"(?:[ \t./\-()]{0,3}\d)"
#: Not the end of a phone number: another digit, or a time going on (``10:30``, ``09h30``).
_END = r"(?!\d|[:hH]\d)"
PHONE = re.compile(
    # international first: +596 696 12 34 56, +33 (0)6 12 34 56 78, 00594 694 12 34 56
    rf"(?:\+|(?<![\d:.,])00)[ \t]?\d{_NEXT}{{6,14}}{_END}"
    # national: 0, a digit 1-9, eight more digits however grouped: 06/96/12/34/56, (0596) 12 34 56
    rf"|(?<!\d)\(?0[1-9]{_NEXT}{{8}}{_END}"
    # a mobile typed without its 0: 696 12 34 56
    rf"|(?<![\d+.,])[67]\d\d(?:[ \t./\-]{{0,2}}\d){{6}}{_END}"
)


#: A Telegram bot token (``123456789:AAH…``): python-telegram-bot logs its API address,
#: token included, at DEBUG level.
BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def mask_contacts(text: str) -> str:
    """``text`` with bot tokens, e-mail addresses and phone numbers replaced by
    ``[jeton]``, ``[e-mail]`` and ``[téléphone]`` (the token first: its digits would
    otherwise read as a phone number and leave the secret half visible)."""
    return PHONE.sub("[téléphone]", EMAIL.sub("[e-mail]", BOT_TOKEN.sub("[jeton]", text)))
