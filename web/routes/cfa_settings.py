"""(placeholder, filled by the issue-12 work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
