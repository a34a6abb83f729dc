"""Checking what a young person types in the lead form: phone, e-mail, town, age.

Pure functions, so the form (actions/leads.py) stays about dialogue and these rules
are tested on their own. Each returns the normalised value, or None with enough for
the form to re-ask with an example.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# -- phone ------------------------------------------------------------------------------
#: Country codes of the territories (E.164) -> the national trunk prefix "0".
#: +590 Guadeloupe, Saint-Martin, Saint-Barthélemy; +594 Guyane; +596 Martinique;
#: +262 La Réunion and Mayotte (Mayotte numbers: +262 269 / +262 639); +33 Hexagone.
COUNTRY_CODES = ("33", "262", "590", "594", "596")

#: Mobile prefix shown in the example of each territory.
EXAMPLE_PHONE = {
    "guadeloupe": "0690 12 34 56", "saint_martin": "0690 12 34 56", "saint_barthelemy": "0690 12 34 56",
    "martinique": "0696 12 34 56", "guyane": "0694 12 34 56", "reunion": "0692 12 34 56",
    "mayotte": "0639 12 34 56", "hexagone": "06 12 34 56 78",
}


def normalise_phone(raw: str) -> str | None:
    """``"+596 696 12-34-56"`` -> ``"+596696123456"``; None if not a French or overseas number.

    Accepted: 10 national digits starting with 0 (01-09, mainland and overseas
    alike: 0690, 0696, 0694, 0692, 0639, ...) or an international form with one of
    :data:`COUNTRY_CODES` (with or without the 0 after it).
    """
    text = re.sub(r"[\s.\-/()]", "", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if re.fullmatch(r"0[1-9]\d{8}", text):
        return text
    match = re.fullmatch(r"\+(\d+)", text)
    if not match:
        return None
    digits = match.group(1)
    for code in sorted(COUNTRY_CODES, key=len, reverse=True):
        if digits.startswith(code):
            national = digits[len(code):]
            if national.startswith("0"):
                national = national[1:]
            if re.fullmatch(r"[1-9]\d{8}", national):
                return f"+{code}{national}"
    return None


# -- e-mail -----------------------------------------------------------------------------
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
#: Domains young people use most; a domain one or two letters away is a typo.
COMMON_DOMAINS = ("gmail.com", "hotmail.com", "hotmail.fr", "yahoo.fr", "yahoo.com", "outlook.fr", "outlook.com",
                  "icloud.com", "live.fr", "orange.fr", "wanadoo.fr", "sfr.fr", "free.fr", "laposte.net")
KNOWN_TYPOS = {"gmail.fr": "gmail.com", "gmal.com": "gmail.com", "gmail.co": "gmail.com", "gmail.con": "gmail.com"}


@dataclass(frozen=True)
class EmailCheck:
    value: str | None  # normalised address if valid
    suggestion: str | None = None  # likely intended address when the domain looks mistyped


def check_email(raw: str) -> EmailCheck:
    address = raw.strip().strip(".,;").replace(" ", "").lower()
    if not EMAIL.match(address):
        return EmailCheck(None)
    local, domain = address.rsplit("@", 1)
    fixed = KNOWN_TYPOS.get(domain)
    if fixed is None and domain not in COMMON_DOMAINS:
        close = difflib.get_close_matches(domain, COMMON_DOMAINS, n=1, cutoff=0.8)
        fixed = close[0] if close else None
    if fixed and fixed != domain:
        return EmailCheck(None, f"{local}@{fixed}")
    return EmailCheck(address)


# -- town -------------------------------------------------------------------------------
def _key(name: str) -> str:
    text = unicodedata.normalize("NFD", name.lower().replace("œ", "oe"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = re.sub(r"\bste?\b", lambda m: "sainte" if m.group(0) == "ste" else "saint", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _without_article(key: str) -> str:
    return re.sub(r"^(le|la|les|l)\s+", "", key)


def match_town(raw: str, towns: list[str]) -> str | None:
    """The commune of ``towns`` the user meant ("lamentin", "fdf", "st pierre"), or None.

    ``towns`` entries are ``"Name"`` or ``"Name|other spelling|..."`` (content/territories.yml).
    """
    wanted = _without_article(_key(raw))
    if not wanted:
        return None
    keys: dict[str, str] = {}
    for entry in towns:
        name, *aliases = [part.strip() for part in entry.split("|")]
        for spelling in (name, *aliases):
            keys.setdefault(_without_article(_key(spelling)), name)
    if wanted in keys:
        return keys[wanted]
    close = difflib.get_close_matches(wanted, list(keys), n=1, cutoff=0.85)
    return keys[close[0]] if close else None


def town_names(towns: list[str]) -> list[str]:
    return [entry.split("|")[0].strip() for entry in towns]


# -- age --------------------------------------------------------------------------------
BIRTH_DATE = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\b")
NUMBER = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")


def parse_age_or_birth_date(value: object, today: date | None = None) -> int | None:
    """``"19"``, ``"g 19 ans"`` or ``"12/03/2007"`` -> age in years."""
    text = str(value or "")
    match = BIRTH_DATE.search(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        try:
            born = date(year, month, day)
        except ValueError:
            return None
        today = today or date.today()
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    match = NUMBER.search(text)
    return int(match.group(1)) if match else None
