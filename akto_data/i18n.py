"""French texts, numbers, dates and currency through Babel.

User-facing sentences that are not Rasa responses live in the gettext catalogue
``locales/fr/LC_MESSAGES/messages.po`` under stable keys (``bot.apology``...).
The catalogue is read straight from the ``.po`` file with Babel, so what staff edit
is what runs: there is no compiled file to forget to rebuild.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date as _babel_format_date
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from akto_data.settings import PROJECT_ROOT

LOCALES_DIR = PROJECT_ROOT / "locales"
DEFAULT_LOCALE = "fr_FR"


class MissingText(KeyError):
    """A key used in code has no French text in the catalogue."""


@lru_cache(maxsize=8)
def catalogue(language: str = "fr") -> Catalog:
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with Path(path).open("rb") as handle:
        return read_po(handle, locale=language)


def text(key: str, /, **values: object) -> str:
    """The French text for ``key``, with ``{placeholders}`` filled from ``values``."""
    message = catalogue().get(key)
    if message is None or not message.string:
        raise MissingText(key)
    template = message.string if isinstance(message.string, str) else message.string[0]
    return template.format(**values) if values else template


def money(amount: Decimal | float | int, locale: str = DEFAULT_LOCALE) -> str:
    """``3 000 €``, ``783,90 €``: whole amounts without cents, others with two decimals."""
    value = Decimal(str(amount))
    pattern = "#,##0\u00a0¤" if value == value.to_integral_value() else "#,##0.00\u00a0¤"
    return format_currency(value, "EUR", format=pattern, locale=locale, currency_digits=False)


def number(value: Decimal | float | int, locale: str = DEFAULT_LOCALE) -> str:
    return format_decimal(value, locale=locale)


def long_date(day: date, locale: str = DEFAULT_LOCALE) -> str:
    """``8 mars 2026``."""
    return _babel_format_date(day, format="d MMMM y", locale=locale)
