"""Which CFAs can take a lead: occupation x territory, filtered by diploma level.

Matching runs on the server from the catalogue, never from what the user typed.
A CFA matches when it teaches the occupation (ROME) in the territory at a level the
young person can enter: not more than two levels above their current diploma
(a CAP holder, level 3, can enter a bac pro or BTS, not a master).

A CFA paused by AKTO staff (:func:`akto_data.cfa.performance.pause`) is never offered
nor chosen: the lead form lists the others, and a young person who picked it before
the pause is asked to choose again (``actions.leads``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.schema import HOME_TERRITORIES
from akto_data.catalogue.tables import CatCfa, CatCfaTraining
from akto_data.cfa.settings import is_paused, paused_cfas

#: How far above their current level a young person can aim.
MAX_LEVEL_STEP = 2


@dataclass(frozen=True)
class CfaMatch:
    cfa_id: str
    name: str
    town: str
    territory: str
    diploma: str
    level: int


def matching_cfas(catalogue: Catalogue, rome: str, territory_id: str, diploma_level: int | None = None
                  ) -> list[CfaMatch]:
    """CFAs of ``territory_id`` teaching ``rome``; one row per CFA, its most fitting training."""
    paused = paused_cfas(catalogue.session)
    rows = [(cfa, training) for cfa, training in catalogue.cfas_teaching(rome, territory_id) if cfa.id not in paused]
    best = _best_per_cfa(rows, diploma_level)
    return sorted(best.values(), key=lambda m: m.name)


def chosen_match(catalogue: Catalogue, cfa_id: str | None, rome: str | None, diploma_level: int | None
                 ) -> CfaMatch | None:
    """The training of ``cfa_id`` the young person was shown on its button (same choice rule);
    None when that CFA is paused."""
    if cfa_id is None or is_paused(catalogue.session, cfa_id):
        return None
    rows = [(cfa, training) for cfa, training in catalogue.cfas_teaching(rome or "") if cfa.id == cfa_id]
    return _best_per_cfa(rows, diploma_level).get(cfa_id or "")


def _best_per_cfa(rows: Iterable[tuple[CatCfa, CatCfaTraining]], diploma_level: int | None) -> dict[str, CfaMatch]:
    best: dict[str, CfaMatch] = {}
    for cfa, training in rows:
        if diploma_level is not None and training.level > diploma_level + MAX_LEVEL_STEP:
            continue
        candidate = CfaMatch(cfa.id, cfa.name, cfa.town, cfa.territory, training.diploma, training.level)
        current = best.get(cfa.id)
        # Prefer the training just above the current level, else the lowest.
        if current is None or _fit(candidate.level, diploma_level) < _fit(current.level, diploma_level):
            best[cfa.id] = candidate
    return best


def _fit(level: int, current: int | None) -> int:
    if current is None:
        return level
    return abs(level - (current + 1))


def territories_with_match(catalogue: Catalogue, rome: str, diploma_level: int | None, exclude: str) -> list[str]:
    """Other home territories where a CFA teaches it (offered only after asking)."""
    return [t for t in HOME_TERRITORIES if t != exclude and matching_cfas(catalogue, rome, t, diploma_level)]
