"""Findings 19 and 21 of issue 10: the quality gate and tests that say why they skip."""

from __future__ import annotations

import socket

from tests.conftest import postgres_unreachable


def test_finding_21_postgres_tests_skip_with_a_clear_reason_where_no_server_answers():
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    reason = postgres_unreachable(f"postgresql+psycopg://postgres@127.0.0.1:{closed}/test")
    assert reason is not None
    assert "PostgreSQL not reachable" in reason and "TEST_POSTGRES_URL" in reason and str(closed) in reason

