"""Which aids fit a young person's situation, from the eligibility rules of content/aids.yml.

Kept as a pure function of the profile and the aid rows so that every rule is
tested on many profiles without a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    """What the eligibility chat asked."""

    age: int | None
    territory: str | None
    status: str  # apprentice | future_apprentice | jobseeker
    destination: str | None  # hexagone | other_overseas | None (staying)
    need: str | None  # licence | housing | transport | money | None


@dataclass(frozen=True)
class Fit:
    aid_id: str
    once_contract_signed: bool  # fits as soon as the young person signs an apprenticeship contract


def fits(rules: dict[str, Any], profile: Profile) -> bool:
    """Whether an aid with these eligibility ``rules`` fits ``profile``."""
    statuses = rules.get("status")
    if statuses and profile.status not in statuses and not (
            profile.status == "future_apprentice" and "apprentice" in statuses):
        return False
    if profile.age is not None:
        if rules.get("min_age") is not None and profile.age < rules["min_age"]:
            return False
        if rules.get("max_age") is not None and profile.age > rules["max_age"]:
            return False
    if rules.get("territories") and profile.territory and profile.territory not in rules["territories"]:
        return False
    destinations = rules.get("destinations")
    if destinations and profile.destination not in destinations:
        return False
    needs = rules.get("needs")
    if needs and not destinations:
        return profile.need in needs
    return True


def eligible(aids: list[Any], profile: Profile) -> list[Fit]:
    """The aids that fit ``profile``, in the given order; employer aids never do."""
    result = []
    for aid in aids:
        rules = aid.eligibility or {}
        if "employer" in (rules.get("status") or []) and profile.status != "employer":
            continue
        if fits(rules, profile):
            statuses = rules.get("status") or []
            pending = profile.status == "future_apprentice" and statuses and "future_apprentice" not in statuses
            result.append(Fit(aid.id, bool(pending)))
    return result
