"""Whether the open books' guards are the ones this version wrote, on either backend.

Its own module so neither ``migrations`` (SQLite's schema) nor ``pg_schema`` (PostgreSQL's) needs
to know which books are open: ``check`` and a day's close ask here.
"""

from __future__ import annotations

from .db import Execute, on_server
from .migrations import schema_problems


def guard_problems(execute: Execute, limit: int = 10) -> list[str]:
    """Every guard (trigger, table, index) missing, changed or added, in words."""
    if on_server():  # PostgreSQL's catalogue and guards are its own (store/pg_schema.py)
        from . import pg_schema

        return pg_schema.problems(execute, limit)
    return schema_problems(execute, limit)
