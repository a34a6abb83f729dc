"""Retrained models: their scores, the rule that accepts or refuses one, which one runs."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from akto_data.models import utcnow
from akto_data.training.models import LOADED, RUNNING, STARTUP, NluModel

#: A new model is refused when macro-F1 or out-of-scope detection falls by more than this
#: (1 point) on any held-out set, against the running model's recorded figures.
MAX_DROP = 0.01
FIGURES = {"macro_f1": "macro-F1", "oos": "hors-sujet détectés"}


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """What is kept of :func:`stack.nlu_eval.scores` for one held-out set."""
    oos = result.get("oos_catch")
    return {"macro_f1": round(float(result["macro_f1"]), 4), "accuracy": round(float(result["accuracy"]), 4),
            "oos": None if oos is None or math.isnan(oos) else round(float(oos), 4),
            "fallback_rate": round(float(result.get("fallback_rate", 0.0)), 4)}


def _fr(value: float) -> str:
    return f"{value:.3f}".replace(".", ",")


def _fr_points(drop: float) -> str:
    return f"{drop * 100:.1f}".replace(".", ",")


def refusals(candidate: dict[str, dict[str, Any]], running: dict[str, dict[str, Any]]) -> list[str]:
    """Why ``candidate`` must not replace ``running`` (empty: it may), with the figures, in French."""
    problems = []
    for name, before in running.items():
        after = candidate.get(name)
        if after is None:
            continue
        for key, label in FIGURES.items():
            if before.get(key) is None or after.get(key) is None:
                continue
            drop = before[key] - after[key]
            if drop > MAX_DROP + 1e-9:
                problems.append(f"{label} sur {name} : {_fr(after[key])} au lieu de {_fr(before[key])} "
                                f"(−{_fr_points(drop)} points, plus de {MAX_DROP * 100:.0f} point de baisse)")
    return problems


def models(session: Session, limit: int = 100) -> list[NluModel]:
    return list(session.scalars(select(NluModel).order_by(NluModel.created_at.desc(), NluModel.id.desc())
                                .limit(limit)))


def running_job(session: Session) -> NluModel | None:
    return session.scalars(select(NluModel).where(NluModel.status == RUNNING).limit(1)).first()


def active_model(session: Session) -> NluModel | None:
    return session.scalars(select(NluModel).where(NluModel.active.is_(True)).limit(1)).first()


def measured(session: Session, file_name: str) -> NluModel | None:
    """The row of a model file (matched on its name, as Rasa's /status gives it) that has scores."""
    for row in session.scalars(select(NluModel).where(NluModel.scores.is_not(None))
                               .order_by(NluModel.id.desc())):
        if row.file.rsplit("/", 1)[-1] == file_name:
            return row
    return None


def record_startup(session: Session, file: str, scores: dict[str, Any], actor: str) -> NluModel:
    """The model found running (started by make run), measured once so later ones compare with it."""
    row = NluModel(file=file, status=STARTUP, scores=scores, active=False, created_by=actor, finished_at=utcnow(),
                   step=None, message="Modèle en service au démarrage, mesuré avant le premier réentraînement.")
    session.add(row)
    session.flush()
    set_active(session, row)
    return row


def set_active(session: Session, row: NluModel) -> None:
    session.execute(update(NluModel).where(NluModel.id != row.id).values(active=False))
    row.active = True
    if row.status == RUNNING:
        row.status = LOADED
