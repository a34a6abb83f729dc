"""Serving-time change of issue 14 (hot_path); see install()."""

from __future__ import annotations


def install() -> None:
    """Nothing yet."""
