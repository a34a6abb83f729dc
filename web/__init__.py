"""The staff console: a web front for AKTO staff, advisors and admins.

A front like ``bot/``: server-rendered pages (FastAPI + Jinja2, htmx for partial
updates) whose handlers are as thin as an action and call the core in ``akto_data``.
"""
