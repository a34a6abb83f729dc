"""The apprentice pay answer, given at once with what is known (issue 13: the answer comes first).

The percentage of the SMIC depends only on the age band and the contract year, and is the
same in every territory; only the SMIC itself differs (Mayotte's is lower). So a question
is never needed before the first figure:

- age (or age band) known: the figure at once. The contract year, when unknown, is taken
  as the 1st and said so (with the 2nd and 3rd years' rates beside it); at 26 and over the
  rate is 100 % every year, so the year is neither assumed nor offered. The territory, when
  unknown, gives the amount at the usual SMIC (Hexagone and the DROM except Mayotte) with
  Mayotte's beside it.
- age unknown: the whole table (it is short) with the range of amounts, and the age bands
  as buttons.

Buttons only offer the details that would change the figure. Pure text building over the
``apprentice_pay`` document and the territories: no Rasa, no Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from akto_data.catalogue.answers import intent_payload, source_lines
from akto_data.catalogue.queries import Smic, Sourced, smic_on
from akto_data.i18n import money
from akto_data.i18n import text as t

#: The territory whose SMIC is the usual one (the group it belongs to is "the usual SMIC").
USUAL = "hexagone"
#: The territories offered as refinement buttons, in the order of the territory question.
TERRITORY_BUTTONS = ("martinique", "guadeloupe", "guyane", "reunion", "mayotte", "saint_martin", "saint_barthelemy")
INTENT = "ask_apprentice_pay"


@dataclass
class PayReply:
    """What the assistant says: one message, its buttons, and what it assumed (for tests and logs)."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)


def band_for(rules: dict[str, Any], age: int) -> dict[str, Any]:
    for band in rules["grid"]:
        if band["min_age"] <= age <= band["max_age"]:
            return dict(band)
    raise ValueError(f"no pay band for age {age}")


def _amount(smic: Decimal, percent: int) -> Decimal:
    return (smic * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _grid_source(rules: dict[str, Any]) -> Sourced:
    return Sourced(rules["source"], date.fromisoformat(rules["verified_on"]), date.fromisoformat(rules["review_on"]))


def _smic_for(groups: list[Smic], territory_id: str) -> Smic | None:
    return next((g for g in groups if territory_id in g.territories), None)


def pay_reply(rules: dict[str, Any], *, age: int | None, band_min: int | None, contract_year: int | None,
              territory: tuple[str, str] | None, on: date | None = None) -> PayReply:
    """The pay answer for what is known.

    ``age`` is the exact age if known; ``band_min`` the lower bound of an age band chosen
    with a button (used when the age is unknown); ``territory`` is ``(id, "en Martinique")``.
    """
    on = on or date.today()
    groups = smic_on(rules, on)
    if age is None and band_min is None:
        return _table(rules, groups, territory)
    band = band_for(rules, age if age is not None else band_min)  # type: ignore[arg-type]
    every_year_same = band["year_1"] == band["year_2"] == band["year_3"]
    reply = PayReply(text="")
    who = t("pay.first.who_age", age=age) if age is not None else t(f"pay.first.who_band.{band['min_age']}")
    if every_year_same:
        year = 1
        year_part = t("pay.first.every_year")
    elif contract_year in (1, 2, 3):
        year = contract_year
        year_part = t("pay.first.in_year", year_label=t(f"pay.year_label.{year}"))
    else:
        year = 1
        year_part = t("pay.first.in_year", year_label=t("pay.year_label.1"))
        reply.assumed.append("contract_year")
    percent = int(band[f"year_{year}"])
    lines: list[str] = []
    sources: list[Sourced | None] = [_grid_source(rules)]
    place = _smic_for(groups, territory[0]) if territory else None
    if territory is not None and place is not None:
        lines.append(t("pay.first.exact", who=who, year_part=year_part, percent=percent,
                       amount=money(_amount(place.monthly_gross, percent)), territory_in=territory[1]))
        sources.append(place.source)
    elif territory is not None:
        lines.append(t("pay.first.no_smic", who=who, year_part=year_part, percent=percent, territory_in=territory[1]))
    else:
        reply.assumed.append("territory")
        usual = _smic_for(groups, USUAL)
        others = [g for g in groups if g is not usual]
        if usual is None:
            lines.append(t("pay.first.no_smic", who=who, year_part=year_part, percent=percent, territory_in=""))
        else:
            lines.append(t("pay.first.usual", who=who, year_part=year_part, percent=percent,
                           amount=money(_amount(usual.monthly_gross, percent))))
            sources.append(usual.source)
        for group in others:
            if "mayotte" in group.territories:
                lines.append(t("pay.first.mayotte", amount=money(_amount(group.monthly_gross, percent))))
                sources.append(group.source)
    if "contract_year" in reply.assumed:
        lines.append(t("pay.first.year_assumed", p2=band["year_2"], p3=band["year_3"]))
    if band["min_age"] >= 21 or (age is not None and age >= 21):
        lines.append(t("pay.first.branch"))
    if reply.assumed:
        lines.append(t(f"pay.first.refine.{'_'.join(sorted(reply.assumed))}"))
    lines.append(source_lines(*sources))
    reply.text = "\n\n".join(lines)
    if "contract_year" in reply.assumed:
        reply.buttons += [{"title": t(f"pay.year_label.{y}"), "payload": intent_payload(INTENT, contract_year=str(y))}
                          for y in (2, 3)]
    if "territory" in reply.assumed:
        reply.buttons += _territory_buttons()
    return reply


def _territory_buttons() -> list[dict[str, str]]:
    return [{"title": t(f"pay.button.territory.{tid}"), "payload": intent_payload(INTENT, territory=tid)}
            for tid in TERRITORY_BUTTONS]


def _table(rules: dict[str, Any], groups: list[Smic], territory: tuple[str, str] | None) -> PayReply:
    """Age unknown: every rate (the table is short), the range of amounts, the age bands as buttons."""
    lines = [t("pay.table.intro")]
    rows = []
    for band in rules["grid"]:
        label = t(f"pay.band.{band['min_age']}")
        if band["year_1"] == band["year_2"] == band["year_3"]:
            rows.append(t("pay.table.row_same", band=label, p=band["year_1"]))
        else:
            rows.append(t("pay.table.row", band=label, p1=band["year_1"], p2=band["year_2"], p3=band["year_3"]))
    lines.append("\n".join(rows))
    percents = [int(band[f"year_{y}"]) for band in rules["grid"] for y in (1, 2, 3)]
    low, high = min(percents), max(percents)
    sources: list[Sourced | None] = [_grid_source(rules)]
    place = _smic_for(groups, territory[0]) if territory else None
    if territory is not None and place is not None:
        lines.append(t("pay.table.range_in", low=money(_amount(place.monthly_gross, low)),
                       high=money(_amount(place.monthly_gross, high)), territory_in=territory[1]))
        sources.append(place.source)
    elif territory is None:
        usual = _smic_for(groups, USUAL)
        mayotte = _smic_for(groups, "mayotte")
        if usual is not None and mayotte is not None:
            lines.append(t("pay.table.range", low=money(_amount(usual.monthly_gross, low)),
                           high=money(_amount(usual.monthly_gross, high)),
                           low_m=money(_amount(mayotte.monthly_gross, low)),
                           high_m=money(_amount(mayotte.monthly_gross, high))))
            sources += [usual.source, mayotte.source]
    lines.append(t("pay.table.ask"))
    lines.append(source_lines(*sources))
    buttons = [{"title": t(f"pay.button.band.{band['min_age']}"),
                "payload": intent_payload(INTENT, pay_age_band=str(band["min_age"]))} for band in rules["grid"]]
    return PayReply(text="\n\n".join(lines), buttons=buttons, assumed=["age"])
