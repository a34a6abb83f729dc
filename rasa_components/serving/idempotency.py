"""Serving-time change of issue 14 (idempotency); see install()."""

from __future__ import annotations


def install() -> None:
    """Nothing yet."""
