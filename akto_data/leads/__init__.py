"""Leads for CFAs: storage, qualification score, and delivery through a persistent outbox.

A lead is stored (with the consent version) in the same transaction as its outbox
messages; a worker sends them later, with retries and back-off, so the chat never
waits on SMTP and a restart never loses a queued lead.
"""
