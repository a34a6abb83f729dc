"""Trainings a CFA proposes in the portal, approved or rejected by AKTO staff.

A CFA never writes the catalogue: it sends the whole list it says it offers, with a note
(:func:`propose`); AKTO staff see what would be added and removed (:func:`changes`) and
approve or reject it. An approval publishes through the console's own path
(:func:`akto_data.catalogue.publishing.publish_entry`): the same schema checks, a new
numbered content version with its author and differences, the audit log, and a restore
button — so a wrong approval is undone like any other edit. A CFA has at most one
pending proposal: a new one replaces it (state ``replaced``), so staff never approve a
list the CFA has since changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.documents import KINDS, digest
from akto_data.catalogue.editing import message as content_message
from akto_data.catalogue.publishing import EditConflict, NoVersion, PublishRefused, publish_entry, running_documents
from akto_data.catalogue.tables import CatCfa, CatCfaTraining, CatOccupation
from akto_data.cfa.models import CfaTrainingProposal
from akto_data.cfa.settings import SettingsView, settings_view
from akto_data.i18n import text as t
from akto_data.models import utcnow
from akto_data.staff.audit import record

#: Diploma levels of the catalogue (3 CAP/BEP … 7 master), as the YAML checks want them.
LEVELS = (3, 4, 5, 6, 7)
#: Bounds of what a CFA types (the catalogue column holds 255 characters).
MAX_DIPLOMA = 150
MAX_NOTE = 1000
MAX_TRAININGS = 40
PENDING, APPROVED, REJECTED, REPLACED = "pending", "approved", "rejected", "replaced"


class ProposalRefused(ValueError):
    """Bad proposal or decision: French messages (by row, or ``""`` for the whole); nothing saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


class ProposalGone(LookupError):
    """No pending proposal with that id (decided, replaced or unknown)."""


@dataclass(frozen=True, order=True)
class Training:
    rome: str
    diploma: str
    level: int

    def as_entry(self) -> dict[str, object]:
        """As ``content/cfas.yml`` writes a training."""
        return {"rome": self.rome, "diploma": self.diploma, "level": self.level}


@dataclass(frozen=True)
class Changes:
    """A proposal against the catalogue: trainings added, removed, and level changes."""

    added: tuple[Training, ...]
    removed: tuple[Training, ...]
    relevelled: tuple[tuple[Training, Training], ...]  # (before, after): same occupation and diploma

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.relevelled)


def current_trainings(session: Session, cfa_id: str) -> list[Training]:
    """The trainings the catalogue lists for the CFA (what matching offers today)."""
    rows = session.scalars(select(CatCfaTraining).where(CatCfaTraining.cfa_id == cfa_id)
                           .order_by(CatCfaTraining.rome, CatCfaTraining.level, CatCfaTraining.diploma))
    return [Training(r.rome, r.diploma, r.level) for r in rows]


def occupation_names(session: Session) -> dict[str, str]:
    """ROME code → name of every occupation of the catalogue (the choices a CFA has)."""
    return {rome: name for rome, name in session.execute(select(CatOccupation.rome, CatOccupation.name)
                                                         .order_by(CatOccupation.name))}


def read_trainings(session: Session, rows: list[dict[str, str]]) -> list[Training]:
    """Rows typed in the form (``rome``, ``diploma``, ``level``, ``remove``) → the list proposed.

    Empty rows and rows ticked "retirer" are left out; duplicates are kept once. Raises
    ProposalRefused with a message per row (``"row.<n>"``) or for the list (``""``).
    """
    known = occupation_names(session)
    errors: dict[str, str] = {}
    kept: dict[tuple[str, str], Training] = {}
    for index, row in enumerate(rows):
        rome = (row.get("rome") or "").strip().upper()
        diploma = " ".join((row.get("diploma") or "").split())
        level_text = (row.get("level") or "").strip()
        if row.get("remove") or not (rome or diploma):
            continue
        if rome not in known:
            errors[f"row.{index}"] = t("cfa.settings.training_rome", rome=rome[:10] or "?")
        elif not diploma:
            errors[f"row.{index}"] = t("cfa.settings.training_diploma")
        elif len(diploma) > MAX_DIPLOMA:
            errors[f"row.{index}"] = t("cfa.settings.training_diploma_long", max=MAX_DIPLOMA)
        elif not level_text.isdigit() or int(level_text) not in LEVELS:
            errors[f"row.{index}"] = t("cfa.settings.training_level")
        else:
            training = Training(rome, diploma, int(level_text))
            kept.setdefault((rome, diploma.casefold()), training)
    if not errors and not kept:
        errors[""] = t("cfa.settings.training_none")
    if len(kept) > MAX_TRAININGS:
        errors[""] = t("cfa.settings.training_too_many", max=MAX_TRAININGS)
    if errors:
        raise ProposalRefused(errors)
    return sorted(kept.values())


def changes(current: list[Training], proposed: list[Training]) -> Changes:
    """What a proposal changes; a diploma kept at another level is a level change, not two rows."""
    before = {(tr.rome, tr.diploma.casefold()): tr for tr in current}
    after = {(tr.rome, tr.diploma.casefold()): tr for tr in proposed}
    added = tuple(sorted(tr for key, tr in after.items() if key not in before))
    removed = tuple(sorted(tr for key, tr in before.items() if key not in after))
    relevelled = tuple(sorted((before[key], tr) for key, tr in after.items()
                              if key in before and before[key] != tr))
    return Changes(added, removed, relevelled)


def pending_of(session: Session, cfa_id: str) -> CfaTrainingProposal | None:
    return session.scalars(select(CfaTrainingProposal).where(
        CfaTrainingProposal.cfa_id == cfa_id, CfaTrainingProposal.state == PENDING)
        .order_by(CfaTrainingProposal.id.desc()).limit(1)).first()


def last_decision_of(session: Session, cfa_id: str) -> CfaTrainingProposal | None:
    """The CFA's latest approved or rejected proposal (the outcome its settings page shows)."""
    return session.scalars(select(CfaTrainingProposal).where(
        CfaTrainingProposal.cfa_id == cfa_id, CfaTrainingProposal.state.in_((APPROVED, REJECTED)))
        .order_by(CfaTrainingProposal.decided_at.desc(), CfaTrainingProposal.id.desc()).limit(1)).first()


def proposed(proposal: CfaTrainingProposal) -> list[Training]:
    return sorted(Training(str(r["rome"]), str(r["diploma"]), int(r["level"])) for r in proposal.trainings)


def propose(session: Session, cfa_id: str, actor: str, trainings: list[Training], note: str,
            now: datetime | None = None) -> CfaTrainingProposal:
    """Record the CFA's proposal (replacing its pending one); audited. Raises ProposalRefused."""
    now = now or utcnow()
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ProposalRefused({"note": t("cfa.settings.note_long", max=MAX_NOTE)})
    if changes(current_trainings(session, cfa_id), trainings).empty:
        raise ProposalRefused({"": t("cfa.settings.training_same")})
    replaced = pending_of(session, cfa_id)
    if replaced is not None:
        replaced.state = REPLACED
    proposal = CfaTrainingProposal(cfa_id=cfa_id, trainings=[tr.as_entry() for tr in trainings], note=note or None,
                                   state=PENDING, proposed_by=actor[:254], created_at=now)
    session.add(proposal)
    session.flush()
    record(session, actor, "cfa.training_propose", f"CFA {cfa_id}",
           {"proposal": replaced.id} if replaced is not None else None,
           {"proposal": proposal.id, "trainings": proposal.trainings}, detail=note or None)
    return proposal


@dataclass(frozen=True)
class PendingView:
    proposal: CfaTrainingProposal
    cfa_name: str
    territory: str
    changes: Changes


def pending(session: Session) -> list[PendingView]:
    """Every pending proposal with what it changes against the catalogue now, oldest first."""
    rows = session.scalars(select(CfaTrainingProposal).where(CfaTrainingProposal.state == PENDING)
                           .order_by(CfaTrainingProposal.created_at, CfaTrainingProposal.id)).all()
    cfas = {c.id: c for c in session.scalars(select(CatCfa).where(CatCfa.id.in_({r.cfa_id for r in rows})))}
    trainings: dict[str, list[Training]] = {}
    for tr in session.scalars(select(CatCfaTraining).where(CatCfaTraining.cfa_id.in_(set(cfas)))):
        trainings.setdefault(tr.cfa_id, []).append(Training(tr.rome, tr.diploma, tr.level))
    return [PendingView(row, cfas[row.cfa_id].name if row.cfa_id in cfas else row.cfa_id,
                        cfas[row.cfa_id].territory if row.cfa_id in cfas else "",
                        changes(trainings.get(row.cfa_id, []), proposed(row))) for row in rows]


def _pending_for_update(session: Session, proposal_id: int) -> CfaTrainingProposal:
    row = session.scalars(select(CfaTrainingProposal).where(CfaTrainingProposal.id == proposal_id)
                          .with_for_update()).first()
    if row is None or row.state != PENDING:
        raise ProposalGone(proposal_id)
    return row


def approve(session: Session, proposal_id: int, staff: str, note: str = "", topics: set[str] | None = None,
            now: datetime | None = None) -> CfaTrainingProposal:
    """Publish the proposed list as a new catalogue version, and record the decision.

    Raises ProposalGone (already decided or replaced) or ProposalRefused (the catalogue's
    checks refuse it, or the CFA left the catalogue): the proposal then stays pending.
    """
    now = now or utcnow()
    row = _pending_for_update(session, proposal_id)
    kind = KINDS["cfa"]
    try:
        documents, running = running_documents(session)
    except NoVersion as exc:
        raise ProposalRefused({"": str(exc)}) from exc
    entry = kind.find(documents, row.cfa_id)
    if entry is None:
        raise ProposalRefused({"": t("cfa.staff.proposal_cfa_gone", cfa=row.cfa_id)})
    updated = copy.deepcopy(entry)
    updated["trainings"] = [tr.as_entry() for tr in proposed(row)]
    summary = t("cfa.staff.proposal_summary", cfa=entry.get("name") or row.cfa_id, number=row.id)
    try:
        published = publish_entry(session, kind, row.cfa_id, updated, base_hash=digest(entry),
                                  base_version=running.number, author=staff, summary=summary, topics=topics)
    except PublishRefused as exc:
        raise ProposalRefused({"": " ; ".join(content_message(e) for e in exc.errors)}) from exc
    except EditConflict as exc:  # another publish at the same instant: staff try again
        raise ProposalRefused({"": t("cfa.staff.proposal_conflict")}) from exc
    row.state, row.decided_by, row.decided_at = APPROVED, staff[:254], now
    row.decision_note = note.strip()[:MAX_NOTE] or None
    row.content_version = published.version.number if published is not None else running.number
    record(session, staff, "cfa.training_approve", f"CFA {row.cfa_id}", {"proposal": row.id, "state": PENDING},
           {"proposal": row.id, "state": APPROVED, "version": row.content_version}, detail=row.decision_note)
    return row


def reject(session: Session, proposal_id: int, staff: str, note: str, now: datetime | None = None
           ) -> CfaTrainingProposal:
    """Reject with a note the CFA reads on its settings page; the catalogue is untouched."""
    now = now or utcnow()
    note = note.strip()
    if not note:
        raise ProposalRefused({"note": t("cfa.staff.reject_note")})
    row = _pending_for_update(session, proposal_id)
    row.state, row.decided_by, row.decided_at, row.decision_note = REJECTED, staff[:254], now, note[:MAX_NOTE]
    record(session, staff, "cfa.training_reject", f"CFA {row.cfa_id}", {"proposal": row.id, "state": PENDING},
           {"proposal": row.id, "state": REJECTED}, detail=row.decision_note)
    return row


@dataclass(frozen=True)
class PortalView:
    """Everything the portal's settings page shows, read in the caller's unit of work."""

    settings: SettingsView
    trainings: list[Training]
    occupations: dict[str, str]
    pending: CfaTrainingProposal | None
    pending_changes: Changes | None
    decision: CfaTrainingProposal | None

    @property
    def editable(self) -> list[Training]:
        """The list the training form starts from: the pending proposal's, else the catalogue's."""
        return proposed(self.pending) if self.pending is not None else self.trainings


def portal_view(session: Session, cfa_id: str, now: datetime | None = None) -> PortalView:
    trainings = current_trainings(session, cfa_id)
    waiting = pending_of(session, cfa_id)
    decision = last_decision_of(session, cfa_id)
    return PortalView(settings_view(session, cfa_id, now), trainings, occupation_names(session), waiting,
                      changes(trainings, proposed(waiting)) if waiting is not None else None, decision)
