"""AKTO staff: accounts with roles, and the audit log of every change they make."""
