"""Analytics page in a real browser: counts equal to the seeded conversations, charts drawn by
Chart.js without any CSP violation, formula-safe CSV downloads, staff only."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import insert

from akto_data.analytics import synthetic
from akto_data.analytics.models import AnalyticsCount
from akto_data.db import get_engine
from akto_data.personal_data import RASA_EVENTS
from tests.web.conftest import login


def seed(days: int = 10) -> tuple[list[synthetic.Spec], date]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    specs = synthetic.make_specs(150, first, days, seed=11, returning_share=0.3)
    engine = get_engine()
    RASA_EVENTS.create(engine, checkfirst=True)
    created = datetime(first.year, first.month, first.day, 10, tzinfo=UTC)
    with engine.begin() as connection:
        synthetic.store(connection, specs)
        synthetic.store_leads(connection, [("martinique", created, ["sent", "read", "contacted"]),
                                           ("martinique", created, ["sent"]), ("guyane", created, [])])
    return specs, first


def total(expected, metric: str, territory: str | None = None) -> int:
    return sum(v for (_, t, m, _k), v in expected.items() if m == metric and (territory is None or t == territory))


def test_analytics_page_counts_charts_and_csv(console, page) -> None:
    specs, first = seed()
    expected = synthetic.expected(specs)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    login(page, console)
    page.click("nav >> text=Statistiques")
    expect(page.locator("h1")).to_have_text("Statistiques d'utilisation")
    expect(page.locator("#total-conversations")).to_have_text("0")  # nothing counted yet
    with page.expect_navigation():
        page.click("text=Mettre à jour maintenant")
    expect(page.locator("#total-conversations")).to_have_text(str(len(specs)))
    expect(page.locator("#total-users")).to_have_text(str(total(expected, "users")))
    expect(page.locator("#total-messages")).to_have_text(str(total(expected, "user_messages")))
    funnel = page.locator("#table-entonnoir")
    expect(funnel.locator("tr[data-step=start] td").nth(1)).to_have_text(
        str(sum(v for k, v in expected.items() if k[2:] == ("funnel", "start"))))
    expect(funnel.locator("tr[data-step=quiz_done] td").nth(1)).to_have_text(
        str(sum(v for k, v in expected.items() if k[2:] == ("funnel", "quiz_done"))))
    expect(funnel.locator("tr[data-step=delivered] td").nth(1)).to_have_text("2")
    expect(funnel.locator("tr[data-step=contacted] td").nth(1)).to_have_text("1")
    # one row per day, and the page shows no chat id
    body = page.content()
    assert not any(spec.sender in body for spec in specs)

    # the three charts are drawn by Chart.js (loaded from /static), pixels on the canvas
    for chart in ("#chart-series", "#chart-funnel", "#chart-topics"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "1")
    assert page.evaluate("typeof Chart") == "function"
    painted = page.evaluate("""() => { const c = document.querySelector('#chart-series');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }""")
    assert painted > 500

    # one territory, by week
    page.select_option("select[name=territory]", "martinique")
    page.select_option("select[name=period]", "week")
    with page.expect_navigation():
        page.click("text=Afficher")
    expect(page.locator("#total-conversations")).to_have_text(str(total(expected, "conversations", "martinique")))
    assert not problems, problems

    # CSV of the topics: a topic name a spreadsheet would run is neutralised
    with get_engine().begin() as connection:
        connection.execute(insert(AnalyticsCount), [{"period": "day", "start": first, "territory": "martinique",
                                                     "metric": "topic", "key": "=HYPERLINK(\"http://x.example\")",
                                                     "value": 10_000}])
    page.goto(f"{console.url}/analytics")
    with page.expect_download() as download:
        page.click("#table-sujets >> xpath=.. >> a.csv")
    with open(download.value.path(), encoding="utf-8-sig", newline="") as file:
        cells = list(csv.reader(file, delimiter=";"))
    assert cells[0] == ["sujet", "messages"]
    assert cells[1] == ["'=HYPERLINK(\"http://x.example\")", "10000"]  # shown as text, never run
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in cells for cell in row)
    with page.expect_download() as download:
        page.click("#table-periodes >> xpath=.. >> a.csv")
    rows = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert sum(int(row.split(";")[1]) for row in rows[1:]) == len(specs)
    assert not problems, problems


def test_bad_filters_are_refused_next_to_the_field(console, page) -> None:
    login(page, console)
    page.goto(f"{console.url}/analytics?from=2026-12-31&to=2026-01-01&territory=atlantide")
    expect(page.locator(".field-error")).to_have_count(2)
    expect(page.locator("text=La date de début doit précéder la date de fin.")).to_be_visible()
    expect(page.locator("text=Territoire inconnu.")).to_be_visible()
