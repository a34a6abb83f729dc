"""Inbox of messages the assistant failed on, and retraining (staff and admins).

Thin handlers: the rules live in :mod:`akto_data.training` (grouping, staged data,
the acceptance rule) and :mod:`stack.retrain` (the background job and Rasa's API).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.catalogue.schema import HOME_TERRITORIES
from akto_data.training import registry
from akto_data.training.inbox import inbox
from akto_data.training.models import STARTUP
from akto_data.training.staging import IGNORED, OUT_OF_SCOPE, NewTopic, StagingError, TrainingTree, assign, create_topic
from stack import retrain
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter()


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


def _inbox_page(request: Request, user: User, session: Session, territory: str, *, errors: dict[str, str] | None = None,
                notice: str = "", status_code: int = 200) -> Response:
    territory = territory if territory in HOME_TERRITORIES else ""
    tree = TrainingTree(request.app.state.settings.training_dir)
    return page(request, "inbox.html", user, status_code=status_code, groups=inbox(session, territory or None),
                territory=territory, territories=HOME_TERRITORIES, topics=tree.topic_labels(), errors=errors or {},
                notice=notice or request.query_params.get("ok", ""))


@router.get("/inbox")
async def inbox_page(request: Request, territory: str = "", user: User = Depends(require("staff")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return _inbox_page(request, user, session, territory)


@router.post("/inbox/assign")
async def inbox_assign(request: Request, topic: str = Form(""), group: str = Form(""), territory: str = Form(""),
                       action: str = Form("assign"), user: User = Depends(require("staff")),
                       session: Session = Depends(unit_of_work, scope="function")) -> Response:
    ids = _ids([str(v) for v in (await request.form()).getlist("ids")])
    target = {"out_of_scope": OUT_OF_SCOPE, "ignore": IGNORED}.get(action, topic)
    try:
        outcome = assign(session, request.app.state.settings.training_dir, ids, target, user.email)
    except StagingError as exc:
        return _inbox_page(request, user, session, territory, status_code=422,
                           errors={group: " ".join(exc.errors.values())})
    session.commit()  # before the redirect: the unit of work would otherwise commit after the response
    label = "hors sujet" if target == OUT_OF_SCOPE else f"le sujet {target}"
    notice = (f"{len(ids)} message(s) classé(s) dans {label} : {outcome.added} exemple(s) ajouté(s) aux données "
              f"d'entraînement en attente" + (f", {outcome.already} déjà présent(s)" if outcome.already else "")
              + ". Pense à réentraîner.") if target != IGNORED else f"{len(ids)} message(s) ignoré(s), sans entraînement."
    query = urlencode({k: v for k, v in {"territory": territory, "ok": notice}.items() if v})
    return RedirectResponse(f"/inbox?{query}", status_code=303)


@router.get("/inbox/new-topic")
async def new_topic_form(request: Request, user: User = Depends(require("staff")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    ids = _ids(request.query_params.getlist("ids"))
    return _topic_page(request, user, session, ids, NewTopic(), {})


def _topic_page(request: Request, user: User, session: Session, ids: list[int], form: NewTopic,
                errors: dict[str, str], status_code: int = 200) -> Response:
    chosen = [m for g in inbox(session) for m in g.messages if m.id in ids]
    return page(request, "inbox_topic.html", user, status_code=status_code, chosen=chosen, form=form, errors=errors)


@router.post("/inbox/new-topic")
async def new_topic_create(request: Request, name: str = Form(""), label: str = Form(""), answer: str = Form(""),
                           source: str = Form(""), examples: str = Form(""), user: User = Depends(require("staff")),
                           session: Session = Depends(unit_of_work, scope="function")) -> Response:
    ids = _ids([str(v) for v in (await request.form()).getlist("ids")])
    form = NewTopic(name=name, label=label, answer=answer, source=source, examples=examples)
    try:
        outcome = create_topic(session, request.app.state.settings.training_dir, ids, form, user.email)
    except StagingError as exc:
        return _topic_page(request, user, session, ids, form, exc.errors, status_code=422)
    session.commit()  # before the redirect (see inbox_assign)
    notice = (f"Sujet {outcome.topic} créé avec {outcome.added} exemple(s) et sa réponse. "
              "Réentraîne pour que l'assistant le reconnaisse.")
    return RedirectResponse(f"/inbox?{urlencode({'ok': notice})}", status_code=303)


# -- models ------------------------------------------------------------------------------

def _models_context(session: Session) -> dict[str, Any]:
    retrain.forget_interrupted(session)
    rows = registry.models(session)
    jobs = [row for row in rows if row.status != STARTUP]
    return {"models": rows, "job": registry.running_job(session), "latest": jobs[0] if jobs else None}


@router.get("/models")
async def models_page(request: Request, user: User = Depends(require("staff")),
                      session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "models.html", user, error=request.query_params.get("error", ""),
                notice=request.query_params.get("ok", ""), **_models_context(session))


@router.get("/models/job")
async def models_job(request: Request, user: User = Depends(require("staff")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    """The job panel alone (htmx polls it every second while a job runs)."""
    context = _models_context(session)
    response = page(request, "models_job.html", user, **context)
    if context["job"] is None and request.query_params.get("was") == "running":
        response.headers["HX-Refresh"] = "true"  # finished: reload the list with the new scores
    return response


@router.post("/models/retrain")
def models_retrain(request: Request, user: User = Depends(require("staff"))) -> Response:
    try:
        retrain.start(request.app.state.settings, user.email)
    except retrain.RetrainError as exc:
        return RedirectResponse(f"/models?{urlencode({'error': str(exc)})}", status_code=303)
    return RedirectResponse("/models", status_code=303)


@router.post("/models/{model_id}/put-back")
def models_put_back(request: Request, model_id: int, user: User = Depends(require("staff"))) -> Response:
    try:
        notice = retrain.put_back(request.app.state.settings, model_id, user.email)
    except retrain.RetrainError as exc:
        return RedirectResponse(f"/models?{urlencode({'error': f'{exc} Le modèle en service reste en place.'})}",
                                status_code=303)
    return RedirectResponse(f"/models?{urlencode({'ok': notice})}", status_code=303)
