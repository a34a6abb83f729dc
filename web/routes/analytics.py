"""Analytics pages (staff): counts per day, week and territory, charts, CSV downloads.

Thin handlers: the figures come from :mod:`akto_data.analytics.report` (counters only,
never Rasa's events); "Mettre à jour" runs the incremental aggregation on demand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.analytics import report
from akto_data.analytics.aggregate import last_update, refresh
from akto_data.catalogue.tables import CatTerritory
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter(prefix="/analytics")


def territory_names(session: Session) -> dict[str, str]:
    return {tid: name for tid, name in session.execute(select(CatTerritory.id, CatTerritory.name)
                                                       .order_by(CatTerritory.name))}


def _filters(request: Request, names: dict[str, str]) -> report.Filters:
    args = request.query_params
    return report.parse_filters(args.get("period"), args.get("from"), args.get("to"), args.get("territory"), names,
                                datetime.now(UTC).date())


def charts(built: report.Report) -> dict[str, Any]:
    """Chart.js configurations (data only; analytics.js draws them)."""
    labels = [row["start"].strftime("%d/%m") for row in built.series]  # type: ignore[attr-defined]
    series = {
        "type": "line",
        "data": {"labels": labels, "datasets": [
            {"label": "Conversations", "data": [row["conversations"] for row in built.series]},
            {"label": "Jeunes", "data": [row["users"] for row in built.series]},
            {"label": "Nouveaux", "data": [row["new_users"] for row in built.series]},
        ]},
    }
    funnel = {"type": "bar", "data": {"labels": [label for _s, label, _c in built.funnel],
                                      "datasets": [{"label": "Nombre", "data": [c for _s, _l, c in built.funnel]}]}}
    topics = {"type": "bar", "indexAxis": "y",
              "data": {"labels": [topic for topic, _ in built.topics],
                       "datasets": [{"label": "Messages", "data": [count for _, count in built.topics]}]}}
    return {"series": series, "funnel": funnel, "topics": topics}


@router.get("")
async def analytics_page(request: Request, user: User = Depends(require("staff")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    names = territory_names(session)
    errors: dict[str, str] = {}
    try:
        filters = _filters(request, names)
    except report.ReportError as exc:
        errors = exc.errors
        filters = report.parse_filters(None, None, None, None, names, datetime.now(UTC).date())
    built = report.build(session, filters, names)
    return page(request, "analytics.html", user, status_code=422 if errors else 200, report=built,
                charts=charts(built), territories=names, errors=errors, form=dict(request.query_params),
                updated=last_update(session), labels=report.SERIES_HEADER)


@router.get("/{table}.csv")
async def analytics_csv(table: str, request: Request, user: User = Depends(require("staff")),
                        session: Session = Depends(unit_of_work, scope="function")) -> Response:
    if table not in report.TABLES:
        raise HTTPException(status_code=404, detail="Tableau inconnu.")
    names = territory_names(session)
    try:
        filters = _filters(request, names)
    except report.ReportError as exc:
        raise HTTPException(status_code=422, detail=" ".join(exc.errors.values())) from exc
    header, rows = report.table_rows(report.build(session, filters, names), table)
    name = f"statistiques-{table}-{filters.period}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    return Response(report.to_csv(header, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@router.post("/refresh")
async def analytics_refresh(request: Request, user: User = Depends(require("staff")),
                            session: Session = Depends(unit_of_work, scope="function")) -> Response:
    refresh(session)
    # Committed before the redirect: FastAPI closes a request-scoped dependency (the unit
    # of work) only after the response is sent, so the next page could read old counts.
    session.commit()
    query = request.url.query
    return RedirectResponse("/analytics" + (f"?{query}" if query else ""), status_code=303)
