"""The staff console application (FastAPI, server-rendered with Jinja2 and htmx).

Why FastAPI with Jinja2 and htmx: the pages are forms and tables that staff use
on ordinary office computers; server-rendered HTML keeps every rule on the server,
next to the core it calls, works without a JavaScript build, and htmx adds the
partial updates (inbox, live queue) with one small file served locally. FastAPI
(Starlette) gives sessions, dependencies for roles and CSRF, and a test client, on
the same ASGI server (uvicorn) as the status page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from akto_data.i18n import long_date
from akto_data.settings import Settings, load_settings, persistent_secret
from web.security import MAX_AGE, CfaLoginRequired, LoginRequired, User, csrf_protect, csrf_token

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["long_date"] = long_date

ROLE_LABELS = {"admin": "administrateur", "staff": "équipe AKTO", "advisor": "conseiller", "cfa": "CFA"}
templates.env.globals["role_label"] = ROLE_LABELS


def page(request: Request, name: str, user: User | None = None, status_code: int = 200, **context: Any) -> Response:
    """Render a page with what every page needs (user, CSRF token, menu)."""
    return templates.TemplateResponse(request, name, {"user": user, "csrf_token": csrf_token(request), **context},
                                      status_code=status_code)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="Console Ici c'est ma place", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_protect)])
    app.state.settings = settings
    app.add_middleware(SessionMiddleware, secret_key=persistent_secret("CONSOLE_SECRET", "console.secret").decode(),
                       session_cookie="console_session", max_age=MAX_AGE, same_site="strict",
                       https_only=settings.console_https)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(CfaLoginRequired)
    async def to_cfa_login(request: Request, _exc: CfaLoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/cfa/connexion"})
        return RedirectResponse(f"/cfa/connexion?next={request.url.path}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException) -> Response:
        return page(request, "error.html", None, status_code=exc.status_code, status=exc.status_code,
                    message=str(exc.detail))

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                    "script-src 'self'; frame-ancestors 'none'")
        if isinstance(response, HTMLResponse) or response.media_type == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    from web.routes import (
        admin,
        analytics,
        auth,
        cfa_messages,
        cfa_portal,
        cfa_settings,
        cfa_staff,
        content,
        home,
        inbox,
        takeover,
    )

    for module in (auth, home, admin, content, analytics, takeover, inbox, cfa_portal, cfa_messages, cfa_settings,
                   cfa_staff):
        app.include_router(module.router)
    return app
