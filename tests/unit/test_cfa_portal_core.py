"""The CFA portal's core (issue 12, section 1): working-day ages, login links (single
use, expiry, throttle counted in the database) on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from akto_data.cfa import login
from akto_data.cfa.models import CfaLoginLink
from akto_data.db import session_scope
from akto_data.leads.delivery import SmtpSettings
from akto_data.leads.lifecycle import add_working_days, working_days_between
from akto_data.models import utcnow

FRIDAY = datetime(2026, 5, 15, 14, 0, tzinfo=UTC)  # Friday 15 May 2026, 10:00 in Martinique


def test_working_days_skip_weekends_and_the_territorys_holidays():
    monday = FRIDAY + timedelta(days=3)
    assert working_days_between(FRIDAY, FRIDAY + timedelta(hours=3), "martinique", "America/Martinique") == 0
    assert working_days_between(FRIDAY, monday, "martinique", "America/Martinique") == 1
    # 22 May is the abolition day in Martinique, not in Guadeloupe (27 May there).
    next_friday = FRIDAY + timedelta(days=7)
    assert working_days_between(FRIDAY, next_friday, "martinique", "America/Martinique") == 4
    assert working_days_between(FRIDAY, next_friday, "guadeloupe", "America/Guadeloupe") == 5
    assert working_days_between(monday, FRIDAY, "martinique", "America/Martinique") == 0  # never negative
    # Local dates: 22:00 on Sunday in Martinique is already Monday in UTC.
    sunday_night = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
    assert working_days_between(FRIDAY, sunday_night, "martinique", "America/Martinique") == 0
    assert working_days_between(FRIDAY, sunday_night, "martinique", "UTC") == 1


@pytest.mark.parametrize("days", [1, 2, 5, 10, 30])
def test_working_days_between_undoes_add_working_days(days):
    for territory, zone in (("martinique", "America/Martinique"), ("reunion", "Indian/Reunion"), (None, "UTC")):
        due = add_working_days(FRIDAY, days, territory, zone)
        assert working_days_between(FRIDAY, due, territory, zone) == days


@pytest.fixture(params=["catalogue", "catalogue_postgres"])
def db(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def mail(smtp_inbox):
    inbox, port = smtp_inbox
    return inbox, SmtpSettings(port=port)


def token_of(inbox) -> str:
    text = inbox.messages[-1][1].get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"/cfa/lien/([A-Za-z0-9_-]+)", text)
    assert found, text
    return found.group(1)


def test_a_link_is_used_once_and_expires(db, mail):
    inbox, smtp = mail
    now = utcnow()
    with session_scope() as session:
        assert login.request_link(session, " Leads@MQ-UMIH.example ", "/cfa/demandes/7", "https://portal.example",
                                  smtp, now) is login.LinkRequest.SENT
    token = token_of(inbox)
    assert "https://portal.example/cfa/lien/" in inbox.messages[-1][1].get_body(("plain",)).get_content()
    with session_scope() as session:
        assert login.peek_link(session, token, now).state is login.LinkState.VALID
        assert login.peek_link(session, token, now + timedelta(minutes=31)).state is login.LinkState.EXPIRED
        assert login.use_link(session, token, now + timedelta(minutes=31)).state is login.LinkState.EXPIRED
        opened = login.use_link(session, token, now + timedelta(minutes=29))
        assert (opened.state, opened.cfa_id, opened.email) == (login.LinkState.VALID, "mq_umih",
                                                               "leads@mq-umih.example")
    with session_scope() as session:
        assert login.use_link(session, token, now + timedelta(minutes=29)).state is login.LinkState.USED
        assert login.use_link(session, secrets.token_urlsafe(32), now).state is login.LinkState.UNKNOWN


def test_a_link_stops_working_when_its_address_is_no_longer_the_cfas(db, mail):
    from akto_data.cfa.models import CfaAccount

    inbox, smtp = mail
    with session_scope() as session:
        login.request_link(session, "leads@mq-umih.example", None, "https://portal.example", smtp)
    with session_scope() as session:
        session.add(CfaAccount(cfa_id="mq_umih", emails=["nouvelle@mq-umih.example"]))
    with session_scope() as session:
        assert login.use_link(session, token_of(inbox)).state is login.LinkState.EXPIRED


def test_three_links_per_address_per_quarter_hour_counted_in_the_database(db, mail):
    inbox, smtp = mail
    start = utcnow()
    for minute in range(3):
        with session_scope() as session:
            assert login.request_link(session, "leads@mq-umih.example", None, "https://p.example", smtp,
                                      start + timedelta(minutes=minute)) is login.LinkRequest.SENT
    with session_scope() as session:
        assert login.request_link(session, "LEADS@mq-umih.example", None, "https://p.example", smtp,
                                  start + timedelta(minutes=10)) is login.LinkRequest.THROTTLED
        assert login.request_link(session, "leads@mq-cma.example", None, "https://p.example", smtp,
                                  start + timedelta(minutes=10)) is login.LinkRequest.SENT
        assert login.request_link(session, "personne@nulle-part.example", None, "https://p.example", smtp,
                                  start) is login.LinkRequest.UNKNOWN
    with session_scope() as session:
        assert login.request_link(session, "leads@mq-umih.example", None, "https://p.example", smtp,
                                  start + timedelta(minutes=15, seconds=1)) is login.LinkRequest.SENT
    assert len(inbox.messages) == 5
    # Old links are purged by later requests: only what the throttle and the open links need is kept.
    with session_scope() as session:
        login.request_link(session, "leads@mq-cma.example", None, "https://p.example", smtp,
                           start + timedelta(days=2))
        assert session.scalars(select(CfaLoginLink.cfa_id)).all() == ["mq_cma"]


def test_list_page_status_and_export_see_only_the_cfas_leads(db):
    from akto_data.cfa import portal
    from akto_data.leads.models import Lead
    from akto_data.leads.store import create_lead
    from tests.unit.test_lead_delivery import lead_data

    received = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 26 November, 23:30 in Martinique
    with session_scope() as session:
        ids = {}
        for number, (cfa_id, name) in enumerate((("mq_umih", "Léa"), ("mq_umih", "Kenzo"), ("mq_cma", "Zoé"))):
            lead = create_lead(lead_data(chat_id=str(70 + number), cfa_id=cfa_id, first_name=name), "v1", 3, session)
            lead.created_at = received + timedelta(minutes=number)
            ids[name] = lead.id
    now = received + timedelta(days=4)  # Monday 30 November
    with session_scope() as session:
        listing = portal.list_leads(session, "mq_umih", portal.LeadFilters(), now)
        assert [r.first_name for r in listing.rows] == ["Kenzo", "Léa"]
        assert (listing.total, listing.waiting, listing.rows[0].age) == (2, 2, 2)  # Friday 27, Monday 30
        assert listing.rows[0].received.strftime("%d/%m %H:%M") == "26/11 23:31"
        day = portal.LeadFilters(start=received.date(), end=received.date())
        assert portal.list_leads(session, "mq_umih", day, now).matching == 0  # the 27th in UTC, the 26th there
        assert portal.open_lead(session, "mq_umih", ids["Zoé"], now) is None
        assert portal.change_status(session, "mq_umih", ids["Zoé"], "enrolled", now=now) is None
        view = portal.open_lead(session, "mq_umih", ids["Léa"], now)
        assert view is not None and view.status == "read" and view.contact.endswith("0696 12 34 56")
        assert portal.change_status(session, "mq_umih", ids["Léa"], "refused", "full", now) \
            is portal.StatusOutcome.RECORDED
        assert portal.change_status(session, "mq_umih", ids["Léa"], "contacted", now=now) \
            is portal.StatusOutcome.BACKWARDS
        body, count = portal.export_csv(session, "mq_umih", date(2026, 11, 26), date(2026, 11, 26))
    assert count == 2 and "Zoé" not in body and "Refusé;formation complète" in body
    with session_scope() as session:
        assert session.get(Lead, ids["Zoé"]).status == "new"  # type: ignore[union-attr]
