"""The CFA portal's core (issue 12, section 1): working-day ages, login links (single
use, expiry, throttle counted in the database) on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from akto_data.cfa import login
from akto_data.cfa.models import CfaLoginLink
from akto_data.cfa.portal import working_days_between
from akto_data.db import session_scope
from akto_data.leads.delivery import SmtpSettings
from akto_data.leads.lifecycle import add_working_days
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
