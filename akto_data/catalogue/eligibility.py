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


def min_age(rules: dict[str, Any], status: str | None) -> int | None:
    """The minimum age for ``status``: ``min_age_jobseeker`` wins for a jobseeker (LADOM: 18, but 16 in alternance)."""
    if status == "jobseeker" and rules.get("min_age_jobseeker") is not None:
        return int(rules["min_age_jobseeker"])
    return rules.get("min_age")


def _status_fits(rules: dict[str, Any], status: str) -> bool:
    statuses = rules.get("status")
    return not statuses or status in statuses or (status == "future_apprentice" and "apprentice" in statuses)


def _age_fits(rules: dict[str, Any], age: int, status: str | None) -> bool:
    low = min_age(rules, status)
    if low is not None and age < low:
        return False
    return not (rules.get("max_age") is not None and age > rules["max_age"])


def fits(rules: dict[str, Any], profile: Profile) -> bool:
    """Whether an aid with these eligibility ``rules`` fits ``profile``."""
    if not _status_fits(rules, profile.status):
        return False
    if profile.age is not None and not _age_fits(rules, profile.age, profile.status):
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


def could_fit(rules: dict[str, Any], known: dict[str, str]) -> bool:
    """Whether an aid may still fit, judged on the answers ``known`` so far only.

    ``known`` holds the eligibility chat's answers (step -> choice: ``status``, ``age``,
    ``territory``, ``destination``, ``need``); a step not answered yet never excludes an aid.
    """
    if "employer" in (rules.get("status") or []):
        return False
    status = known.get("status")
    if status is not None and not _status_fits(rules, status):
        return False
    if "age" in known and not _age_fits(rules, int(known["age"]), status):
        return False
    territory = known.get("territory")
    if rules.get("territories") and territory and territory not in rules["territories"]:
        return False
    destinations = rules.get("destinations")
    if "destination" in known:
        destination = None if known["destination"] == "none" else known["destination"]
        if destinations and destination not in destinations:
            return False
    needs = rules.get("needs")
    if "need" in known and needs and not destinations:
        return (None if known["need"] == "none" else known["need"]) in needs
    return True


def worth_asking(step: str, choices: tuple[str, ...], aids: list[Any], known: dict[str, str]) -> bool:
    """Whether the answer to ``step`` can change which aids fit: if not, the chat does not ask it.

    E.g. the age, once every aid still possible has no age condition (staying home, no
    particular need), or an age that every choice satisfies.
    """
    outcomes = {tuple(could_fit(aid.eligibility or {}, {**known, step: choice}) for aid in aids)
                for choice in choices}
    return len(outcomes) > 1


def too_young(aids: list[Any], profile: Profile) -> list[tuple[Any, int]]:
    """Aids that would fit ``profile`` but for its age being under their minimum: (aid, minimum age).

    So that a 17-year-old is told "not yet, from 18" instead of not hearing of the aid at all.
    """
    if profile.age is None:
        return []
    found = []
    for aid in aids:
        rules = aid.eligibility or {}
        low = min_age(rules, profile.status)
        if "employer" in (rules.get("status") or []) or low is None or profile.age >= low:
            continue
        if fits(rules, Profile(low, profile.territory, profile.status, profile.destination, profile.need)):
            found.append((aid, low))
    return found


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


#: A need an aid answers -> the neighbouring needs another aid may answer instead
#: (no licence aid before 18: help with getting around is the nearest thing).
RELATED_NEEDS: dict[str, tuple[str, ...]] = {"licence": ("transport",)}


def instead_of(aids: list[Any], refused: Any, age: int, territory: str | None) -> list[Any]:
    """Aids an apprentice of ``age`` can already get for the need ``refused`` answers (it is not yet for them)."""
    needs = list((refused.eligibility or {}).get("needs") or [])
    needs += [n for need in needs for n in RELATED_NEEDS.get(need, ())]
    found = []
    for aid in aids:
        rules = aid.eligibility or {}
        if aid.id == refused.id or rules.get("destinations"):
            continue
        known = {"age": str(age), "status": "apprentice", **({"territory": territory} if territory else {})}
        if any(could_fit(rules, {**known, "need": need}) for need in needs):
            found.append(aid)
    return found
