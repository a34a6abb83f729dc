"""``make load``: the load benchmark (see :mod:`stack.load.__main__`)."""
