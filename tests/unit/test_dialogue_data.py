"""Dialogue data generated from a table stays in sync with it."""

from stack.interruptions import TARGET, render


def test_interruption_rules_are_up_to_date():
    assert TARGET.read_text(encoding="utf-8") == render(), "run: .venv/bin/python -m stack.interruptions"


def test_finding_0_no_slot_mapping_names_an_action():
    """A custom mapping naming an action makes Rasa run that action during slot
    extraction on every message: the quiz and the aid chat then ran twice per message
    and never ended. Slots set by actions need a bare ``type: custom`` mapping."""
    import yaml

    from akto_data.settings import PROJECT_ROOT

    offenders = []
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        slots = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("slots") or {}
        for name, slot in slots.items():
            for mapping in slot.get("mappings") or []:
                if mapping.get("type") == "custom" and mapping.get("action"):
                    offenders.append(f"{path.name}: {name} -> {mapping['action']}")
    assert not offenders, offenders
