"""Use cases and the command pipeline, written against small ports (see ports.py)."""
