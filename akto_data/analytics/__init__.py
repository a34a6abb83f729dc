"""Usage statistics for AKTO staff: counts per day, week and territory, no personal data.

- :mod:`akto_data.analytics.models`: the two tables (counts, cursors).
- :mod:`akto_data.analytics.aggregate`: the incremental aggregation of Rasa's events
  and of the leads' status history.
- :mod:`akto_data.analytics.report`: what the console pages and CSV files read.
"""
