"""The catalogue kept in memory by a long-running reader (the action server), per content version.

Why: every action answer read the catalogue again (a handful of queries and ORM rows per
message), though it only changes when someone publishes: a console save, a restore, or an
import of ``content/`` (:mod:`.publishing`). Each of those writes the catalogue tables and
records a new :class:`.ContentVersion` in the same transaction. So a reader keeps one
snapshot of the tables and, on each unit of work, checks which version is the newest (one
primary-key lookup): the same version, the snapshot answers; another one, the snapshot is
read again. The check goes to the database, not to a message between processes, so it holds
for the console and the action server being different processes, and for several action
servers on one PostgreSQL.

Why it stays exact:
- the version is read *before* the tables, in the snapshot's own transaction: a publish
  committed in between gives newer tables under an older number, read again at the next
  check (never older tables under the newer number);
- a version is told by its number *and* its publication time, so a database recreated
  with a different "version 2" (tests, a restore of a dump) is not taken for the cached one;
- an import of the same public documents rewrites the tables without a new version: then
  the published rows are unchanged; only the private delivery settings may differ, and they
  are not in the snapshot (:class:`CachedCatalogue` reads them, like anything else not
  cached, through the session);
- with no version at all (tables written by hand), nothing is cached.

Every cached read returns what :class:`.Catalogue` returns for the same tables, in the same
order: the lists are built by the same SQL queries, once, and only filtered here. The rows
are detached ORM objects shared by every caller: read them, never change them (as with
``Catalogue``, whose rows a change would write back to the database).
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from akto_data.catalogue.queries import AidAmounts, Catalogue, PayAnswer, Sourced, pay_from_rules
from akto_data.catalogue.tables import (
    CatAid,
    CatAidPeriod,
    CatCfa,
    CatCfaTraining,
    CatDocument,
    CatFaq,
    CatOccupation,
    CatRecruitment,
    CatTerritory,
)
from akto_data.catalogue.version_models import ContentVersion

#: What tells one published version from another: (number, published_at).
VersionKey = tuple[int, Any]


def current_version(session: Session) -> VersionKey | None:
    """The newest content version, by primary key: the cheap check made on every unit of work."""
    row = session.execute(select(ContentVersion.number, ContentVersion.published_at)
                          .order_by(ContentVersion.number.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


@dataclass
class Snapshot:
    """Every published catalogue row of one version, with the orders ``Catalogue`` returns."""

    version: VersionKey
    territories: list[CatTerritory] = field(default_factory=list)  # by id
    faq: dict[str, CatFaq] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    occupations: list[CatOccupation] = field(default_factory=list)  # by name
    occupation_by_rome: dict[str, CatOccupation] = field(default_factory=dict)
    taught: dict[str, list[CatOccupation]] = field(default_factory=dict)  # territory -> by name, distinct
    recruiting: list[tuple[CatOccupation, CatRecruitment]] = field(default_factory=list)  # year desc, name
    recruitment_by_key: dict[tuple[str, str], CatRecruitment] = field(default_factory=dict)
    cfa_trainings: list[tuple[CatCfa, CatCfaTraining]] = field(default_factory=list)  # CFA name, level
    aids: list[CatAid] = field(default_factory=list)  # by name
    aid_by_id: dict[str, CatAid] = field(default_factory=dict)
    periods: dict[str, list[CatAidPeriod]] = field(default_factory=dict)  # aid -> newest start first

    @classmethod
    def read(cls, session: Session) -> Snapshot | None:
        """The tables as they are now (None when no version was ever published)."""
        version = current_version(session)  # first: see the module's docstring
        if version is None:
            return None
        snap = cls(version)
        snap.territories = list(session.scalars(select(CatTerritory).order_by(CatTerritory.id)))
        snap.faq = {row.topic: row for row in session.scalars(select(CatFaq))}
        snap.documents = {row.name: row.data for row in session.scalars(select(CatDocument))}
        snap.occupations = list(session.scalars(select(CatOccupation).order_by(CatOccupation.name)))
        snap.occupation_by_rome = {o.rome: o for o in snap.occupations}
        # Catalogue.occupations_taught for every territory at once, in the order of all occupations.
        taught: dict[str, set[str]] = defaultdict(set)
        for rome, territory in session.execute(select(CatCfaTraining.rome, CatCfa.territory)
                                               .join(CatCfa, CatCfa.id == CatCfaTraining.cfa_id)):
            taught[territory].add(rome)
        snap.taught = {territory: [o for o in snap.occupations if o.rome in romes]
                       for territory, romes in taught.items()}
        snap.recruiting = [(o, r) for o, r in session.execute(
            select(CatOccupation, CatRecruitment).join(CatRecruitment, CatRecruitment.rome == CatOccupation.rome)
            .where(CatRecruitment.recruits.is_(True))
            .order_by(CatRecruitment.year.desc(), CatOccupation.name)).all()]
        snap.recruitment_by_key = {(r.rome, r.territory): r for r in session.scalars(select(CatRecruitment))}
        snap.cfa_trainings = [(c, t) for c, t in session.execute(
            select(CatCfa, CatCfaTraining).join(CatCfaTraining, CatCfaTraining.cfa_id == CatCfa.id)
            .order_by(CatCfa.name, CatCfaTraining.level, CatCfa.id, CatCfaTraining.diploma)).all()]
        snap.aids = list(session.scalars(select(CatAid).order_by(CatAid.name)))
        snap.aid_by_id = {a.id: a for a in snap.aids}
        periods: dict[str, list[CatAidPeriod]] = defaultdict(list)
        for period in session.scalars(select(CatAidPeriod).order_by(CatAidPeriod.start.desc())):
            periods[period.aid_id].append(period)
        snap.periods = dict(periods)
        session.expunge_all()  # detached: shared by later units of work, never written back
        return snap


class CachedCatalogue(Catalogue):
    """:class:`.Catalogue` answering from a :class:`Snapshot`; the session serves everything else."""

    def __init__(self, session: Session, snapshot: Snapshot) -> None:
        super().__init__(session)
        self.snapshot = snapshot

    def territory(self, territory_id: str) -> CatTerritory | None:
        return next((t for t in self.snapshot.territories if t.id == territory_id), None)

    def territories(self) -> list[CatTerritory]:
        return list(self.snapshot.territories)

    def faq(self, topic: str) -> tuple[str, Sourced] | None:
        row = self.snapshot.faq.get(topic)
        return (row.answer, Sourced(row.source, row.verified_on, row.review_on)) if row else None

    def document(self, name: str) -> dict[str, Any]:
        data = self.snapshot.documents.get(name)
        if data is None:
            raise LookupError(f"catalogue document {name!r} missing: run the catalogue import")
        return copy.deepcopy(dict(data))  # the caller's own copy, as a fresh read gives

    def occupation(self, rome: str) -> CatOccupation | None:
        return self.snapshot.occupation_by_rome.get(rome)

    def occupations_taught(self, territory_id: str) -> list[CatOccupation]:
        return list(self.snapshot.taught.get(territory_id, []))

    def all_occupations(self) -> list[CatOccupation]:
        return list(self.snapshot.occupations)

    def recruiting(self, territory_id: str) -> list[tuple[CatOccupation, CatRecruitment]]:
        return [(o, r) for o, r in self.snapshot.recruiting if r.territory == territory_id]

    def recruitment(self, rome: str, territory_id: str) -> CatRecruitment | None:
        return self.snapshot.recruitment_by_key.get((rome, territory_id))

    def cfas_teaching(self, rome: str, territory_id: str | None = None) -> list[tuple[CatCfa, CatCfaTraining]]:
        return [(c, t) for c, t in self.snapshot.cfa_trainings
                if t.rome == rome and (not territory_id or c.territory == territory_id)]

    def aid(self, aid_id: str) -> CatAid | None:
        return self.snapshot.aid_by_id.get(aid_id)

    def aids(self) -> list[CatAid]:
        return list(self.snapshot.aids)

    def aids_for_topic(self, topic: str) -> list[CatAid]:
        return [a for a in self.snapshot.aids if a.topic == topic]

    def amounts_on(self, aid_id: str, on: date | None = None) -> AidAmounts | None:
        on = on or date.today()
        row = self.snapshot.aid_by_id.get(aid_id)
        if row is None:
            return None
        period = next((p for p in self.snapshot.periods.get(aid_id, []) if p.start <= on), None)
        if period is None or (period.end is not None and period.end < on):
            return AidAmounts(row, [], None, None)
        return AidAmounts(row, list(period.items), period.start, period.end)

    def apprentice_pay(self, age: int, contract_year: int, territory_id: str, on: date | None = None) -> PayAnswer:
        return pay_from_rules(self.document("apprentice_pay"), age, contract_year, territory_id, on)


_snapshots: dict[str, Snapshot] = {}  # database URL -> the snapshot of its newest version
_lock = threading.Lock()


def cached_catalogue(session: Session) -> Catalogue:
    """The catalogue for this unit of work: from memory while no one published, else read again.

    One primary-key query per call (the newest version); the tables are read only when
    it changed. Without any published version, a plain :class:`.Catalogue`.
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    url = engine.url.render_as_string(hide_password=False)
    version = current_version(session)
    if version is None:
        return Catalogue(session)
    snapshot = _snapshots.get(url)
    if snapshot is None or snapshot.version != version:
        with _lock:
            snapshot = _snapshots.get(url)
            if snapshot is None or snapshot.version != version:
                # Read in the caller's transaction (one unit of work stays one transaction),
                # through a session of its own, so the caller's identity map is left alone.
                with Session(bind=session.connection()) as reading:
                    snapshot = Snapshot.read(reading)
                if snapshot is None:
                    return Catalogue(session)
                _snapshots[url] = snapshot
    # A publish committed while the snapshot was read makes it newer than ``version``,
    # never older (version first, then tables): the next check reads again.
    return CachedCatalogue(session, snapshot)


def forget() -> None:
    """Drop every snapshot (tests switching databases, :func:`akto_data.db.dispose_engines`)."""
    with _lock:
        _snapshots.clear()
