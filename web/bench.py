"""Console page times with a realistic volume: ``make console-bench`` (``python -m web.bench``).

Seeds ``--conversations`` conversations (default 100,000, as Rasa 3.6 stores them in its
``events`` table, with returning young people, quizzes, lead forms, 👍/👎 and leads with
their statuses) into a scratch SQLite database, and into a scratch PostgreSQL database
when one answers (``BENCH_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/akto_bench``),
runs the analytics aggregation, then requests every console page ``--repeat`` times
through the real app (uvicorn on 127.0.0.1, logged in as an admin) and prints p50/p95 per
page. Goal: every page under 300 ms at p95.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

GOAL_MS = 300.0
PASSWORD = "banc-d-essai-console-2026"
EMAIL = "bench@akto.example"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def prepare(url: str, conversations: int) -> None:
    from akto_data.analytics import synthetic
    from akto_data.analytics.aggregate import run_until_caught_up
    from akto_data.catalogue.importer import import_catalogue
    from akto_data.db import create_schema, dispose_engines, get_engine, session_scope
    from akto_data.personal_data import RASA_EVENTS
    from akto_data.staff.accounts import create_account

    os.environ["DATABASE_URL"] = url
    dispose_engines()
    create_schema()
    import_catalogue()
    engine = get_engine()
    RASA_EVENTS.create(engine, checkfirst=True)
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    specs = synthetic.make_specs(conversations, today - timedelta(days=180), 180)
    with engine.begin() as connection:
        rows = synthetic.store(connection, specs)
        created = [datetime.combine(spec.day, datetime.min.time(), UTC) + timedelta(hours=12)
                   for spec in specs if spec.lead_form]
        statuses: tuple[list[str], ...] = (["sent", "read", "contacted"], ["sent", "read"], ["sent"], [])
        leads = synthetic.store_leads(connection, [(spec.territory or "martinique", moment, statuses[i % 4])
                                                   for i, (spec, moment) in enumerate(
                                                       zip([s for s in specs if s.lead_form], created, strict=True))])
    print(f"  seeded {len(specs):,} conversations ({len({s.sender for s in specs}):,} young people), "
          f"{rows:,} event rows, {leads:,} leads in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    result = run_until_caught_up()
    print(f"  aggregation: {result.events:,} events and {result.statuses:,} statuses in "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    again = run_until_caught_up()
    print(f"  a run with nothing new: {again.events} events in {1000 * (time.perf_counter() - started):.0f} ms")
    with session_scope() as session:
        create_account(session, email=EMAIL, name="Banc d'essai", role="admin", password=PASSWORD, actor="bench")


def pages(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every GET page of the console without a path parameter, plus the analytics variants."""
    found: list[str] = []

    def walk(routes, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:  # FastAPI wraps included routers
                walk(included.routes, prefix + route.include_context.prefix)
                continue
            path = prefix + getattr(route, "path", "")
            if "GET" not in (getattr(route, "methods", None) or set()) or "{" in path:
                continue
            if path in ("/health", "/login", "/logout") or path.startswith("/static") or path in found:
                continue
            found.append(path)

    walk(app.routes, "")
    found += ["/analytics?period=week", "/analytics?territory=martinique",
              "/analytics?period=week&from=" + (datetime.now(UTC).date() - timedelta(days=182)).isoformat(),
              "/analytics/periodes.csv", "/analytics/sujets.csv", "/analytics/entonnoir.csv",
              "/analytics/territoires.csv", "/analytics/avis.csv"]
    return found


def measure(repeat: int) -> list[tuple[str, int, float, float]]:
    import uvicorn

    from akto_data.settings import load_settings
    from web.app import create_app
    from web.routes import auth

    auth._attempts.clear()
    app = create_app(load_settings())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    results = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            form = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            login = client.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                                "csrf_token": token.group(1) if token else ""})
            if login.status_code not in (200, 303):
                raise SystemExit(f"login refused: {login.status_code}")
            for path in pages(app):
                times, status = [], 0
                client.get(path)  # warm-up (template compilation)
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append(1000 * (time.perf_counter() - started))
                    status = response.status_code
                results.append((path, status, percentile(times, 0.5), percentile(times, 0.95)))
    finally:
        server.should_exit = True
        thread.join(10)
    return results


def report(name: str, results: list[tuple[str, int, float, float]]) -> bool:
    print(f"\n{name}: page                                           status    p50 ms    p95 ms")
    ok = True
    for path, status, p50, p95 in results:
        flag = "" if p95 < GOAL_MS else "  > 300 ms"
        ok &= p95 < GOAL_MS
        print(f"  {path:52s} {status:5d} {p50:9.1f} {p95:9.1f}{flag}")
    slowest = max(results, key=lambda r: r[3])
    print(f"  slowest p95: {slowest[0]} {slowest[3]:.1f} ms (goal < {GOAL_MS:.0f} ms): {'OK' if ok else 'NOT MET'}")
    return ok


def postgres_url() -> str | None:
    from akto_data.db import on_server, recreate_database_statements

    url = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/akto_bench")
    try:
        on_server(url, *recreate_database_statements(url))
    except Exception as exc:  # no server: SQLite only
        print(f"PostgreSQL skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
        return None
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description="Temps de réponse des pages de la console (p50/p95).")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="console-bench-"))
    os.environ["ASSISTANT_VAR_DIR"] = str(scratch / "var")
    ok = True
    targets = [("SQLite", f"sqlite:///{scratch / 'bench.db'}")]
    if not args.no_postgres and (url := postgres_url()):
        targets.append(("PostgreSQL", url))
    for name, url in targets:
        print(f"{name} ({args.conversations:,} conversations, {args.repeat} requests per page):")
        prepare(url, args.conversations)
        ok &= report(name, measure(args.repeat))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
