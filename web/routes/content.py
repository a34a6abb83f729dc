"""Content pages (staff): lists, search, edit forms with the YAML checks, Telegram preview,
publish as a numbered version, versions with their differences, restore, YAML export.

Thin over :mod:`akto_data.catalogue` (editing, preview, publishing, export): the same
checks and messages as ``make content-check``; the private delivery settings are
never read here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.catalogue import editing, preview
from akto_data.catalogue.documents import KINDS, Documents, Kind, digest
from akto_data.catalogue.export import documents_for, zip_bytes
from akto_data.catalogue.importer import domain_topics
from akto_data.catalogue.publishing import (
    EditConflict,
    NoVersion,
    PublishRefused,
    publish_entry,
    restore,
    running_documents,
    version,
    versions,
)
from akto_data.catalogue.schema import HOME_TERRITORIES
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter(prefix="/contenu")


def _kind(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise HTTPException(status_code=404, detail="Type de contenu inconnu.")
    return kind


def _running(session: Session) -> tuple[Documents, Any]:
    try:
        return running_documents(session)
    except NoVersion as exc:
        raise HTTPException(status_code=409, detail="Aucune version publiée : importer content/ "
                                                    "(make content-import).") from exc


def _form_data(form: Any) -> dict[str, list[str]]:
    return {key: [str(v) for v in form.getlist(key)] for key in form if key != "csrf_token"}


def _options(kind: Kind, documents: Documents) -> dict[str, tuple[str, ...]]:
    """Choices of select fields that depend on the catalogue (FAQ topics of the domain)."""
    if kind.name == "faq":
        return {"topic": tuple(sorted(t for t in domain_topics() if t.startswith("ask_")))}
    return {}


@router.get("")
async def index(request: Request, user: User = Depends(require("staff")),
                session: Session = Depends(unit_of_work, scope="function")) -> Response:
    documents, running = _running(session)
    counts = {kind.name: len(kind.entries(documents)) for kind in KINDS.values()}
    return page(request, "content_index.html", user, kinds=KINDS, counts=counts, running=running,
                history=versions(session, limit=5))


@router.get("/versions")
async def version_list(request: Request, user: User = Depends(require("staff")),
                       session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "content_versions.html", user, history=versions(session))


@router.get("/versions/{number}")
async def version_detail(number: int, request: Request, user: User = Depends(require("staff")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    row = version(session, number)
    if row is None:
        raise HTTPException(status_code=404, detail="Version inconnue.")
    _documents, running = _running(session)
    return page(request, "content_version.html", user, row=row, running=running)


@router.post("/versions/{number}/restaurer")
async def version_restore(number: int, request: Request, user: User = Depends(require("staff")),
                          session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        published = restore(session, number, author=user.email, topics=domain_topics())
    except NoVersion as exc:
        raise HTTPException(status_code=404, detail="Version inconnue.") from exc
    except PublishRefused as exc:
        _documents, running = _running(session)
        return page(request, "content_version.html", user, status_code=422, row=version(session, number),
                    running=running, refused=[editing.message(e) for e in exc.errors])
    except EditConflict:
        raise HTTPException(status_code=409, detail="Une autre publication vient d'avoir lieu : recharge la page.") \
            from None
    target = published.version.number if published else number
    return RedirectResponse(f"/contenu/versions/{target}?restauree={number}", status_code=303)


@router.get("/export.zip")
async def export_zip(user: User = Depends(require("staff")), session: Session = Depends(unit_of_work, scope="function"),
                     version: int | None = None) -> Response:
    try:
        documents, number = documents_for(session, version)
    except NoVersion as exc:
        raise HTTPException(status_code=404, detail="Version inconnue.") from exc
    return Response(zip_bytes(documents), media_type="application/zip",
                    headers={"Content-Disposition": f"attachment; filename=contenu-version-{number}.zip"})


@router.get("/{kind_name}")
async def entry_list(kind_name: str, request: Request, q: str = "", user: User = Depends(require("staff")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    kind = _kind(kind_name)
    documents, running = _running(session)
    if kind.list_key is None:
        return RedirectResponse(f"/contenu/{kind.name}/{kind.id_key}", status_code=303)
    needle = q.strip().lower()
    rows = [e for e in kind.entries(documents) if not needle or needle in repr(e).lower()]
    return page(request, "content_list.html", user, kind=kind, rows=rows, q=q, running=running)


def _edit_page(request: Request, user: User, kind: Kind, documents: Documents, running: Any, key: str | None,
               entry: dict[str, Any], *, base_hash: str, base_version: int, errors: dict[str, list[str]] | None = None,
               conflict: EditConflict | None = None, summary: str = "", status_code: int = 200) -> Response:
    return page(request, "content_edit.html", user, status_code=status_code, kind=kind, key=key, entry=entry,
                fields=editing.FORMS[kind.name], options=_options(kind, documents), shown=editing.shown,
                errors=errors or {}, base_hash=base_hash, base_version=base_version, conflict=conflict,
                summary=summary, running=running, territories=HOME_TERRITORIES,
                published=request.query_params.get("publie"))


@router.get("/{kind_name}/nouveau")
async def entry_new(kind_name: str, request: Request, user: User = Depends(require("staff")),
                    session: Session = Depends(unit_of_work, scope="function")) -> Response:
    kind = _kind(kind_name)
    documents, running = _running(session)
    return _edit_page(request, user, kind, documents, running, None, {}, base_hash="", base_version=running.number)


@router.get("/{kind_name}/{key}")
async def entry_edit(kind_name: str, key: str, request: Request, user: User = Depends(require("staff")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    kind = _kind(kind_name)
    documents, running = _running(session)
    entry = kind.find(documents, key)
    if entry is None:
        raise HTTPException(status_code=404, detail="Entrée introuvable (supprimée ou renommée ?).")
    return _edit_page(request, user, kind, documents, running, key, entry, base_hash=digest(entry),
                      base_version=running.number)


def _typed(kind: Kind, key: str | None, documents: Documents, form: dict[str, list[str]]
           ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    original = kind.find(documents, key) if key else None
    entry, errors = editing.read_form(kind, form, original)
    if key is not None and kind.list_key is not None:
        entry[kind.id_key] = key  # the id of an existing entry is fixed
    return entry, editing.field_errors(documents, kind, key, entry, domain_topics(), errors)


@router.post("/{kind_name}/apercu")
@router.post("/{kind_name}/{key}/apercu")
async def entry_preview(kind_name: str, request: Request, key: str | None = None,
                        user: User = Depends(require("staff")), session: Session = Depends(unit_of_work, scope="function")) -> Response:
    """The Telegram rendering of the form as typed (htmx fragment); nothing is saved."""
    kind = _kind(kind_name)
    documents, _running_row = _running(session)
    form = _form_data(await request.form())
    entry, errors = _typed(kind, key, documents, form)
    territory = (form.get("_preview_territory") or [""])[-1] or None
    bubbles = []
    if not errors:
        from akto_data.catalogue.documents import replace_entry

        draft = replace_entry(documents, kind, key, entry)
        bubbles = preview.preview(draft, kind.name, kind.key_of(entry), territory)
    return page(request, "_content_preview.html", user, bubbles=bubbles, errors=errors, kind=kind)


@router.post("/{kind_name}")
@router.post("/{kind_name}/{key}")
async def entry_publish(kind_name: str, request: Request, key: str | None = None,
                        user: User = Depends(require("staff")), session: Session = Depends(unit_of_work, scope="function")) -> Response:
    kind = _kind(kind_name)
    documents, running = _running(session)
    form = _form_data(await request.form())
    base_hash = (form.get("_base_hash") or [""])[-1]
    base_version = int((form.get("_base_version") or ["0"])[-1] or 0)
    summary = (form.get("_summary") or [""])[-1].strip()
    entry, errors = _typed(kind, key, documents, form)
    if errors:
        return _edit_page(request, user, kind, documents, running, key, entry, base_hash=base_hash,
                          base_version=base_version, errors=errors, summary=summary, status_code=422)
    try:
        published = publish_entry(session, kind, key, entry, base_hash=base_hash, base_version=base_version or None,
                                  author=user.email, summary=summary, topics=domain_topics())
    except EditConflict as conflict:
        fresh, latest_row = _running(session)
        current = kind.find(fresh, key or kind.key_of(entry))
        # Their change is shown; what this person typed stays in the form, now based on the running version.
        return _edit_page(request, user, kind, fresh, latest_row, key, entry,
                          base_hash=digest(current) if current is not None else "",
                          base_version=latest_row.number, conflict=conflict, summary=summary, status_code=409)
    except PublishRefused as refused:
        return _edit_page(request, user, kind, documents, running, key, entry, base_hash=base_hash,
                          base_version=base_version,
                          errors={"*": [f"{e.file} [{e.entry}] : {editing.message(e)}" for e in refused.errors]},
                          summary=summary, status_code=422)
    target = kind.key_of(entry)
    number = published.version.number if published else running.number
    return RedirectResponse(f"/contenu/{kind.name}/{target}?publie={number}", status_code=303)


def _register_template_helpers() -> None:
    from akto_data.catalogue.documents import word_diff
    from web.app import templates

    templates.env.globals["word_diff"] = word_diff


_register_template_helpers()
