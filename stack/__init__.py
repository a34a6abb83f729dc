"""Process orchestration: train the model when needed, start Rasa, the action
server and the bot, wait until each is healthy, stop them all cleanly.

Used by ``make run`` (:mod:`stack.run`) and by the end-to-end tests, so the tests
start the product exactly as an operator does.
"""
