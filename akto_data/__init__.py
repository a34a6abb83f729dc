"""Shared data layer of the assistant.

Everything the Telegram front (``bot/``) and the Rasa custom actions (``actions/``)
both need lives here: settings read from the environment, the SQLAlchemy data model,
and the repositories that read and write it. Neither side talks to the database any
other way, so there is a single place where the schema and its rules live.
"""
