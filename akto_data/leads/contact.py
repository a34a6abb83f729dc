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
from typing import cast

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import String

from akto_data.leads.models import Lead

# -- phone ------------------------------------------------------------------------------
#: Territory id -> region of the phone numbering plan (libphonenumber).
#: +590 Guadeloupe, Saint-Martin, Saint-Barthélemy; +594 Guyane; +596 Martinique;
#: +262 La Réunion and Mayotte; +33 Hexagone. They share one national plan: a number
#: starting with 0 reaches the same line from any of them.
PHONE_REGIONS = {
    "guadeloupe": "GP", "martinique": "MQ", "guyane": "GF", "reunion": "RE", "mayotte": "YT",
    "saint_martin": "MF", "saint_barthelemy": "BL", "hexagone": "FR",
}
OVERSEAS_REGIONS = ("GP", "MQ", "GF", "RE", "YT", "MF", "BL")
#: Lines a CFA can call back; premium-rate, shared-cost (08…), toll-free, short and
#: other special numbers are refused. VoIP covers the 09 numbers of home internet boxes.
PERSONAL_LINE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE,
                                 PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.VOIP})
#: What a phone number is typed with: digits, a leading + and separators (no letters:
#: libphonenumber would read "06 CALL..." as a vanity number).
PHONE_CHARS = re.compile(r"\+?[\d\s.\-/()]+")
DEFAULT_TERRITORY = "martinique"  # example shown before the territory is known


@dataclass(frozen=True)
class PhoneCheck:
    value: str | None  # E.164 (+596696201234) if the number is a valid personal line
    not_personal: bool = False  # valid, but premium-rate, shared-cost or another service number


def _regions_to_try(territory: str | None) -> list[str]:
    """The territory's region first, then the other overseas ones, the Hexagone last.

    National numbers are shared: 0696… is a Martinique mobile even for someone who
    lives in Guadeloupe. Overseas regions come before "FR" because libphonenumber's
    Hexagone ranges also contain overseas fixed lines (05 96…, 02 62…).
    """
    own = PHONE_REGIONS.get(territory or "")
    first = [own] if own and own != "FR" else []
    return first + [region for region in OVERSEAS_REGIONS if region not in first] + ["FR"]


def check_phone(raw: str, territory: str | None = None) -> PhoneCheck:
    """A French or overseas phone number, as typed, checked with libphonenumber.

    ``"0696 20 12 34"``, ``"06/96/20/12/34"``, ``"+596 696 20 12 34"``, ``"00594 694…"``
    -> ``PhoneCheck("+596696201234")``. Numbers that do not exist (``+33 696…``,
    ``0700000000``) and numbers of other countries give ``PhoneCheck(None)``; a valid
    premium-rate or shared-cost number ``PhoneCheck(None, not_personal=True)``.
    """
    text = raw.strip()
    if not PHONE_CHARS.fullmatch(text):
        return PhoneCheck(None)
    not_personal = False
    for region in _regions_to_try(territory):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return PhoneCheck(None)
        if not phonenumbers.is_valid_number(number):
            continue
        if phonenumbers.region_code_for_number(number) not in PHONE_REGIONS.values():
            return PhoneCheck(None)  # another country's number
        if phonenumbers.number_type(number) not in PERSONAL_LINE_TYPES:
            not_personal = True
            continue
        return PhoneCheck(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    return PhoneCheck(None, not_personal=not_personal)


def normalise_phone(raw: str, territory: str | None = None) -> str | None:
    """The E.164 form of a valid personal phone number, or None (see :func:`check_phone`)."""
    return check_phone(raw, territory).value


def example_phone(territory: str | None) -> str:
    """libphonenumber's example mobile of the territory, as written there: ``0696 20 12 34``."""
    region = PHONE_REGIONS.get(territory or "") or PHONE_REGIONS[DEFAULT_TERRITORY]
    number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    return _national(number) if number is not None else ""


def _national(number: phonenumbers.PhoneNumber) -> str:
    """National form with the overseas habit of a 4-digit first group: 0696 20 12 34."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    digits = re.sub(r"\D", "", national)
    if phonenumbers.region_code_for_number(number) in OVERSEAS_REGIONS and len(digits) == 10:
        return f"{digits[:4]} {digits[4:6]} {digits[6:8]} {digits[8:]}"
    return national


def display_phone(value: str) -> str:
    """A stored E.164 number as a person reads it (``+596696201234`` -> ``0696 20 12 34``)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return _national(number) if phonenumbers.is_valid_number(number) else value


# -- e-mail -----------------------------------------------------------------------------
#: Longest address we keep: the lead's contact column, and at most RFC 5321's 254.
EMAIL_MAX_LENGTH = min(254, cast(String, Lead.__table__.c.contact_value.type).length or 254)
#: Domains young people use most; a domain one or two letters away is a typo.
COMMON_DOMAINS = ("gmail.com", "hotmail.com", "hotmail.fr", "yahoo.fr", "yahoo.com", "outlook.fr", "outlook.com",
                  "icloud.com", "live.fr", "orange.fr", "wanadoo.fr", "sfr.fr", "free.fr", "laposte.net")
KNOWN_TYPOS = {"gmail.fr": "gmail.com", "gmal.com": "gmail.com", "gmail.co": "gmail.com", "gmail.con": "gmail.com"}
#: Last label of a domain: two letters or more (or an internationalised "xn--" one).
TOP_LEVEL = re.compile(r"[^\W\d_]{2,}|xn--[\w-]+")


@dataclass(frozen=True)
class EmailCheck:
    value: str | None  # normalised address if valid
    suggestion: str | None = None  # likely intended address when the domain looks mistyped
    too_long: bool = False  # longer than EMAIL_MAX_LENGTH characters


def check_email(raw: str) -> EmailCheck:
    """Syntax by ``email-validator`` (no network), then our typo check of common domains.

    Addresses with accents before the @ are refused (few mail servers accept them,
    and on Gmail or Hotmail they are typos).
    """
    address = raw.strip().strip(".,;").replace(" ", "").lower()
    if len(address) > EMAIL_MAX_LENGTH:
        return EmailCheck(None, too_long=True)
    try:
        address = validate_email(address, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError:
        return EmailCheck(None)
    local, domain = address.rsplit("@", 1)
    fixed = KNOWN_TYPOS.get(domain)
    if fixed is None and domain not in COMMON_DOMAINS:
        close = difflib.get_close_matches(domain, COMMON_DOMAINS, n=1, cutoff=0.8)
        fixed = close[0] if close else None
    if fixed and fixed != domain:
        return EmailCheck(None, f"{local}@{fixed}")
    if not TOP_LEVEL.fullmatch(domain.rsplit(".", 1)[-1]):
        return EmailCheck(None)
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


#: "j'habite à", "je suis au", "moi c'est": words before a commune typed as an answer.
_LIVE_AT = re.compile(r"^(?:j habite|jhabite|je vis|je suis|j suis|jsui|jsuis|moi c est|c est|chez moi c est)?\s*"
                      r"(?:a|au|aux|en|sur|dans)?\s+|^(?:a|au|aux)\s+")


def town_anywhere(raw: str, territories: list[tuple[str, list[str]]]) -> tuple[str, str] | None:
    """(territory id, commune) when what was typed is a commune of exactly one territory, else None.

    Answers "Tu habites où ?" with a commune ("Schœlcher", "j'habite à Kourou"): the
    commune says the territory, so neither is asked again (issue 13). A name shared by
    two territories ("Lamentin": Guadeloupe, "Le Lamentin": Martinique) deduces nothing.
    """
    key = _key(raw)
    candidates = {key, _LIVE_AT.sub("", key, count=1).strip()}
    found = {(tid, town) for tid, towns in territories for c in candidates if c and (town := match_town(c, towns))}
    return found.pop() if len({tid for tid, _ in found}) == 1 and len(found) == 1 else None


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
