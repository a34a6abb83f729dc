"""From the answers of the lead form (Rasa slots) to a lead: the summary the young
person checks before consenting, and the data stored once they say yes.

Shared by the form's actions (summary, submission) so what the user approves is
exactly what is stored and sent.
"""

from __future__ import annotations

from typing import Any

from akto_data.catalogue.queries import Catalogue
from akto_data.i18n import MissingText
from akto_data.i18n import text as t
from akto_data.leads.contact import display_phone
from akto_data.leads.matching import CfaMatch, chosen_match

REASONS = ("places", "pay", "employer", "content", "schedule", "other")


def as_int(value: Any) -> int | None:
    """Slots are text: ``"19"`` -> 19, anything else -> None."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def lead_request(catalogue: Catalogue, slots: dict[str, Any], chat_id: str | None
                 ) -> tuple[dict[str, Any], CfaMatch | None]:
    """Fields of :class:`akto_data.leads.models.Lead` from the form's slots, and the
    CFA training chosen (the one its button showed), read once from the catalogue."""
    cfa_id, rome = slots.get("lead_cfa"), slots.get("occupation")
    age, level = as_int(slots.get("age")), as_int(slots.get("diploma_level"))
    match = chosen_match(catalogue, cfa_id, rome, level)
    job = catalogue.occupation(rome or "") if match is None else None
    message = slots.get("lead_message")
    data = {
        "chat_id": chat_id, "cfa_id": cfa_id, "rome": rome,
        "training": match.diploma if match else (job.name if job else rome),
        "first_name": slots.get("lead_first_name"), "age": age, "territory": slots.get("territory"),
        "town": slots.get("lead_town"), "diploma_level": level,
        "start_when": slots.get("lead_start"), "has_employer": {"yes": True, "no": False}.get(str(slots.get("lead_employer"))),
        "mobility": slots.get("lead_mobility"), "contact_channel": slots.get("lead_contact_channel"),
        "contact_value": slots.get("lead_contact_value"),
        "reasons": [r for r in slots.get("lead_reasons_picked") or [] if r in REASONS],
        "message": None if message in (None, "", "none") else message,
        "minor": age is not None and age < 18,
    }
    return data, match


def label(kind: str, value: Any) -> str:
    """French label of a form code (``start``/``rentree`` -> "à la rentrée"); unknown codes as is."""
    if value in (None, ""):
        return "?"
    try:
        return t(f"lead.value.{kind}.{value}")
    except MissingText:
        return str(value)


def shown_contact(channel: str | None, value: str | None) -> str:
    """How a contact reads for a person: the channel, then a phone in its national form.

    Phones are stored in E.164 (``+596696123456``) for software; people read ``0696 12 34 56``.
    """
    shown = display_phone(value) if channel == "phone" and value else (value or "")
    return f"{label('channel', channel)} {shown}".strip()


def lead_summary(catalogue: Catalogue, slots: dict[str, Any]) -> tuple[str, str]:
    """The recap shown before the consent question, and the name of the CFA."""
    data, cfa = lead_request(catalogue, slots, None)
    place = catalogue.territory(data["territory"] or "")
    text = t("lead.summary",
             first_name=data["first_name"] or "?", age=data["age"] if data["age"] is not None else "?",
             town=data["town"] or "?", territory=place.name if place else "?", training=data["training"] or "?",
             diploma=label("diploma", data["diploma_level"]), start=label("start", data["start_when"]),
             employer=label("employer", slots.get("lead_employer")), mobility=label("mobility", data["mobility"]),
             contact=shown_contact(data["contact_channel"], data["contact_value"]),
             reasons=", ".join(label("reason", r) for r in data["reasons"]) or "?",
             message=data["message"] or "—", cfa=f"{cfa.name} ({cfa.town})" if cfa else "?")
    return text, cfa.name if cfa else "?"
