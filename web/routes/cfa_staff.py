"""What AKTO staff see of the CFAs (``/cfas``): who answers, flags, pause and resume, and
the trainings CFAs propose (``/cfas/propositions``).

Thin handlers over :mod:`akto_data.cfa.performance` and :mod:`akto_data.cfa.proposals`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.catalogue.importer import domain_topics
from akto_data.cfa import performance, proposals
from akto_data.cfa.performance import PauseRefused, PeriodRefused
from akto_data.cfa.proposals import ProposalGone, ProposalRefused
from akto_data.i18n import text as t
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter(prefix="/cfas")


def _period(request: Request) -> performance.Period:
    args = request.query_params
    return performance.parse_period(args.get("du"), args.get("au"), datetime.now(UTC).date())


def _performance_page(request: Request, user: User, session: Session, status_code: int = 200,
                      **context: Any) -> Response:
    errors: dict[str, str] = {}
    try:
        period = _period(request)
    except PeriodRefused as exc:
        errors = exc.errors
        period = performance.default_period(datetime.now(UTC).date())
        status_code = 422
    report = performance.build(session, period)
    return page(request, "cfas.html", user, status_code=status_code, report=report, period_errors=errors,
                form=dict(request.query_params), rule=performance.flag_rule(), flag_labels=performance.flag_labels,
                pending=len(proposals.pending(session)), **context)


@router.get("")
def performance_page(request: Request, fait: str = "", user: User = Depends(require("staff")),
                           session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return _performance_page(request, user, session, done=fait)


@router.get(".csv")
def performance_csv(request: Request, user: User = Depends(require("staff")),
                          session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        period = _period(request)
    except PeriodRefused as exc:
        raise HTTPException(status_code=422, detail=" ".join(exc.errors.values())) from exc
    name = f"cfa-reponses-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(performance.to_csv(performance.build(session, period)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _back(request: Request, done: str) -> str:
    query = request.url.query
    return f"/cfas?fait={done}" + (f"&{query}" if query else "")


@router.post("/{cfa_id}/pause")
def pause(request: Request, cfa_id: str, reason: str = Form(""), user: User = Depends(require("staff")),
                session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        changed = performance.pause(session, cfa_id, reason, user.email)
    except PauseRefused as exc:
        return _performance_page(request, user, session, status_code=422, pause_error={cfa_id: str(exc)},
                                 typed_reason={cfa_id: reason})
    session.commit()  # before the redirect: the page reads the pause
    return RedirectResponse(_back(request, "pause" if changed else "deja"), status_code=303)


@router.post("/{cfa_id}/reprise")
def resume(request: Request, cfa_id: str, user: User = Depends(require("staff")),
                 session: Session = Depends(unit_of_work, scope="function")) -> Response:
    changed = performance.resume(session, cfa_id, user.email)
    session.commit()
    return RedirectResponse(_back(request, "reprise" if changed else "deja"), status_code=303)


# -- training proposals --------------------------------------------------------------------------------------------
def _proposals_page(request: Request, user: User, session: Session, status_code: int = 200,
                    **context: Any) -> Response:
    return page(request, "cfas_proposals.html", user, status_code=status_code, items=proposals.pending(session),
                occupations=proposals.occupation_names(session), **context)


@router.get("/propositions")
def proposals_page(request: Request, fait: str = "", version: str = "", user: User = Depends(require("staff")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return _proposals_page(request, user, session, done=fait, version=version)


@router.post("/propositions/{proposal_id}/{decision}")
def decide(request: Request, proposal_id: int, decision: str, note: str = Form(""),
                 user: User = Depends(require("staff")),
                 session: Session = Depends(unit_of_work, scope="function")) -> Response:
    if decision not in ("approuver", "refuser"):
        raise HTTPException(status_code=404, detail=t("cfa.staff.page_not_found"))
    try:
        if decision == "approuver":
            row = proposals.approve(session, proposal_id, user.email, note, topics=domain_topics())
        else:
            row = proposals.reject(session, proposal_id, user.email, note)
    except ProposalGone:
        return _proposals_page(request, user, session, status_code=409, gone=True)
    except ProposalRefused as exc:
        return _proposals_page(request, user, session, status_code=422, decision_errors={proposal_id: exc.errors},
                               typed_note={proposal_id: note})
    session.commit()
    done = "approuvee" if row.state == proposals.APPROVED else "refusee"
    return RedirectResponse(f"/cfas/propositions?fait={done}&version={row.content_version or ''}", status_code=303)
