"""Admin pages: accounts (create, deactivate) and the audit log (view, CSV export)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.catalogue.schema import HOME_TERRITORIES
from akto_data.staff import audit
from akto_data.staff.accounts import AccountError, accounts, create_account, set_active
from akto_data.staff.models import ROLES
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter(prefix="/admin")


@router.get("/accounts")
async def account_list(request: Request, user: User = Depends(require("admin")),
                       session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "accounts.html", user, accounts=accounts(session), roles=ROLES,
                territories=HOME_TERRITORIES, form={}, errors={})


@router.post("/accounts")
async def account_create(request: Request, email: str = Form(""), name: str = Form(""), role: str = Form(""),
                         password: str = Form(""), user: User = Depends(require("admin")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    territories = [str(t) for t in (await request.form()).getlist("territories")]
    try:
        create_account(session, email=email, name=name, role=role, password=password, territories=territories,
                       actor=user.email)
    except AccountError as exc:
        return page(request, "accounts.html", user, status_code=422, accounts=accounts(session), roles=ROLES,
                    territories=HOME_TERRITORIES, form={"email": email, "name": name, "role": role,
                                                        "territories": territories},
                    errors=exc.errors)
    return RedirectResponse("/admin/accounts", status_code=303)


@router.post("/accounts/{account_id}/active")
async def account_active(account_id: int, active: str = Form("0"), user: User = Depends(require("admin")),
                         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    set_active(session, account_id, active == "1", user.email)
    return RedirectResponse("/admin/accounts", status_code=303)


@router.get("/audit")
async def audit_log(request: Request, user: User = Depends(require("admin")),
                    session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "audit.html", user, events=audit.events(session))


@router.get("/audit.csv")
async def audit_csv(user: User = Depends(require("admin")), session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return Response(audit.export_csv(audit.events(session, limit=100_000)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=journal-des-modifications.csv"})
