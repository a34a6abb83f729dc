"""Home page: what needs attention (facts past their review date, entries to verify)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from akto_data.catalogue.freshness import facts_to_check
from web.app import page
from web.security import User, current_user, unit_of_work

router = APIRouter()


@router.get("/")
async def home(request: Request, user: User = Depends(current_user), session: Session = Depends(unit_of_work, scope="function")
               ) -> Response:
    facts = facts_to_check(session) if user.can("staff") else []
    return page(request, "home.html", user, facts=facts)
