"""Dialogue data generated from a table stays in sync with it."""

from stack.interruptions import TARGET, render


def test_interruption_rules_are_up_to_date():
    assert TARGET.read_text(encoding="utf-8") == render(), "run: .venv/bin/python -m stack.interruptions"
