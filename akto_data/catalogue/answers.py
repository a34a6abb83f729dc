"""The texts and buttons the assistant builds from the catalogue, in one place.

The custom actions send them, and the staff console previews them before publishing
(on a scratch copy of the catalogue, :mod:`.preview`): both call these functions, so
a preview is what a young person will read. Pure text building over a
:class:`~akto_data.catalogue.queries.Catalogue`: no Rasa, no Telegram.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from akto_data.catalogue.queries import Catalogue, Sourced
from akto_data.i18n import long_date, money
from akto_data.i18n import text as t

Buttons = list[dict[str, str]]


def intent_payload(intent: str, **entities: str) -> str:
    """Payload of one of our buttons: ``/intent{"entity":"value"}`` (compact JSON)."""
    return f"/{intent}" + (json.dumps(entities, separators=(",", ":"), ensure_ascii=False) if entities else "")


def source_lines(*facts: Sourced | None, today: date | None = None) -> str:
    """The "Source : …, vérifié le …" line every figure or rule ends with.

    One place so that no answer can state a fact without it, and so that a fact past
    its review date is still given but marked "à vérifier".
    """
    present = [f for f in facts if f is not None]
    if not present:
        raise ValueError("an answer with a figure needs a source")
    sources = " ; ".join(dict.fromkeys(f.source for f in present))
    oldest = min(f.verified_on for f in present)
    lines = [t("catalogue.source", source=sources, verified_on=long_date(oldest))]
    if any(f.stale(today) for f in present):
        lines.append(t("catalogue.to_check", verified_on=long_date(oldest)))
    return "\n".join(lines)


def faq_text(catalogue: Catalogue, topic: str) -> str | None:
    """The answer of an FAQ topic with its source line, or None if the topic has none."""
    found = catalogue.faq(topic)
    if found is None:
        return None
    answer, sourced = found
    return f"{answer}\n\n{source_lines(sourced)}"


def aid_text(catalogue: Catalogue, aid_id: str) -> str:
    """One aid: name, amounts in force today, how to apply, source."""
    current = catalogue.amounts_on(aid_id)
    if current is None:
        raise LookupError(f"aid {aid_id!r} is not in the catalogue")
    aid = current.aid
    lines = [t("aid.title", name=aid.name), aid.summary]
    conditions = aid_conditions(aid.eligibility or {})
    if conditions:
        lines.append(t("aid.conditions", conditions=conditions))
    for item in current.items:
        unit = item.get("unit", "once")
        lines.append(t(f"aid.item.{unit}", amount=money(item["amount"]), condition=item.get("condition", "")).rstrip())
    lines.append(t("aid.how", how_to_apply=aid.how_to_apply))
    lines.append("")
    lines.append(source_lines(Sourced(aid.source, aid.verified_on, aid.review_on)))
    return "\n".join(lines)


def aid_conditions(rules: dict[str, Any]) -> str:
    """The conditions that decide who gets an aid (age limits, then the notes), shown with it (issue 13).

    The eligibility chat filters on them; a young person reading one aid must see them
    too, e.g. that the State's driving-licence aid starts at 18.
    """
    parts = []
    if rules.get("min_age") is not None and rules.get("min_age_jobseeker") is None:
        parts.append(t("aid.condition.min_age", age=rules["min_age"]))
    if rules.get("max_age") is not None:
        parts.append(t("aid.condition.max_age", age=int(rules["max_age"]) + 1))
    sentence = " ".join(p[:1].upper() + p[1:] + "." for p in parts)
    notes = (rules.get("notes") or "").strip()
    return " ".join(x for x in (sentence, notes) if x)


def occupation_card(catalogue: Catalogue, rome: str, territory_id: str | None) -> tuple[str, Buttons] | None:
    """Text and buttons of the card of ``rome``, localised to ``territory_id`` if known."""
    job = catalogue.occupation(rome)
    if job is None:
        return None
    lines = [t("occupation.title", name=job.name), t("occupation.what", text=job.what_you_do),
             t("occupation.where", text=job.where), t("occupation.qualities", items=", ".join(job.qualities)),
             t("occupation.diplomas", items=", ".join(
                 t("occupation.diploma_level", name=d["name"], level=d["level"]) for d in job.diplomas))]
    place = catalogue.territory(territory_id) if territory_id else None
    if place is not None:
        claim = catalogue.recruitment(rome, place.id)
        if claim is not None and claim.recruits:
            lines.append(t("occupation.recruits_here", territory_in=place.in_the, source=claim.source, year=claim.year))
        else:
            lines.append(t("occupation.no_recruit_claim", territory_in=place.in_the))
        cfas = catalogue.cfas_teaching(rome, place.id)
        if cfas:
            items = "; ".join(t("occupation.cfa_item", cfa=c.name, town=c.town, diploma=tr.diploma) for c, tr in cfas)
            lines.append(t("occupation.cfas_here", territory_in=place.in_the, items=items))
        else:
            lines.append(t("occupation.no_cfa_here", territory_in=place.in_the))
    buttons = [{"title": t("occupation.contact_button"), "payload": intent_payload("request_cfa_contact", occupation=rome)}]
    if place is not None:
        buttons.append({"title": t("occupation.other_jobs_button"), "payload": intent_payload("ask_recruiting_jobs")})
    return "\n\n".join(lines), buttons


def quiz_question(quiz: dict[str, Any], question: dict[str, Any]) -> tuple[str, Buttons]:
    """One quiz question as sent: "Question n/N" and one button per answer."""
    questions = quiz["questions"]
    buttons = [{"title": a["label"], "payload": intent_payload("quiz_answer", quiz_choice=f"{question['id']}-{i}")}
               for i, a in enumerate(question["answers"])]
    text = t("quiz.question", number=questions.index(question) + 1, count=len(questions), text=question["text"])
    return text, buttons
