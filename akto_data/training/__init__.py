"""Better understanding without a developer: the console's inbox of messages the
assistant failed on, staged training data, and the registry of retrained models."""
