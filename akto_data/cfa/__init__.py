"""The CFA side: portal accounts (magic-link login), settings, training proposals, performance."""
