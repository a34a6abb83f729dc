import re
from datetime import date
from pathlib import Path

from akto_data.i18n import catalogue, long_date, money, text

ROOT = Path(__file__).resolve().parents[2]


def test_every_text_key_used_in_code_exists_in_the_french_catalogue():
    used = set()
    for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "actions").rglob("*.py")):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", path.read_text()))
        used |= set(re.findall(r"""["'](bot\.[a-z_.]+)["']""", path.read_text()))
    assert used, "no text key found: the scan is broken"
    missing = sorted(k for k in used if not catalogue().get(k) or not catalogue().get(k).string)
    assert missing == []


def test_french_formats():
    assert money(3000) == "3\u202f000\u00a0€"
    assert money(783.9) == "783,90\u00a0€"
    assert long_date(date(2026, 3, 8)) == "8 mars 2026"
    assert "« bonjour »" in text("bot.apology.resend", text="bonjour")
