"""An AKTO advisor takes over a conversation (issue 11, section 5).

- :mod:`akto_data.takeover.models`: requests, messages, advisors on duty.
- :mod:`akto_data.takeover.core`: the rules, used by the action server (a request),
  the bot (the young person's messages, the advisor's sent to Telegram, silence) and
  the console (queue, take over, reply, hand back, duty).
"""
