"""Minimum pay of an apprentice: % of the SMIC by age and contract year, per territory.

The grid and the SMIC of each territory and period are content
(``content/apprentice_pay.yml``); Mayotte has its own SMIC. The answer carries its
sources so that the user sees where each figure comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from akto_data.content import load_yaml


@dataclass(frozen=True)
class PayAnswer:
    age: int
    contract_year: int
    territory: str
    percent: int
    monthly_gross: Decimal | None  # None when no SMIC is known for that territory and date
    smic: Decimal | None
    grid_source: str
    smic_source: str | None
    verified_on: date


def percent_of_smic(age: int, contract_year: int) -> int:
    if contract_year not in (1, 2, 3):
        raise ValueError("contract year must be 1, 2 or 3")
    for band in load_yaml("apprentice_pay.yml")["grid"]:
        if band["min_age"] <= age <= band["max_age"]:
            return int(band[f"year_{contract_year}"])
    raise ValueError(f"no pay band for age {age}")


def smic_on(territory: str, on: date) -> tuple[Decimal, str, date] | None:
    """Gross monthly SMIC in force in ``territory`` on ``on``, with its source and check date."""
    for group in load_yaml("apprentice_pay.yml")["smic"]:
        if territory in group["territories"]:
            current = None
            for period in sorted(group["periods"], key=lambda p: p["start"]):
                if period["start"] <= on:
                    current = period
            if current is None:
                return None
            return Decimal(str(current["monthly_gross"])), current["source"], current["verified_on"]
    return None


def apprentice_pay(age: int, contract_year: int, territory: str, on: date | None = None) -> PayAnswer:
    on = on or date.today()
    data = load_yaml("apprentice_pay.yml")
    percent = percent_of_smic(age, contract_year)
    smic = smic_on(territory, on)
    amount = None
    if smic is not None:
        amount = (smic[0] * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return PayAnswer(
        age=age, contract_year=contract_year, territory=territory, percent=percent, monthly_gross=amount,
        smic=smic[0] if smic else None, grid_source=data["source"], smic_source=smic[1] if smic else None,
        verified_on=min(data["verified_on"], smic[2]) if smic else data["verified_on"],
    )
