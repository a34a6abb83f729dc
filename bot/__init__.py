"""Telegram front of the assistant (python-telegram-bot 22), plus a console front.

Both fronts share :mod:`bot.conversation`: one code path turns what the user did
(text, command, button, media) into a Rasa message and Rasa's answer into messages.
"""
