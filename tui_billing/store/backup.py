"""Online backup with SQLite's backup API (never a file copy, which can tear a live database)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .db import database, ensure_file
from .errors import BillingError


def backup_to(dest: Path, *, force: bool = False) -> int:
    """Copy the open database to ``dest`` (created 0600) and verify the copy. Returns its page count."""
    dest = Path(dest).expanduser()
    if dest.exists():
        if not force:
            raise BillingError(f"{dest} already exists: choose another name or pass --force")
        dest.unlink()
    try:
        ensure_file(dest)
    except OSError as exc:
        raise BillingError(f"cannot create {dest}: {exc.strerror}") from exc
    target = sqlite3.connect(dest)
    try:
        database.connection().backup(target)
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
        pages: int = target.execute("PRAGMA page_count").fetchone()[0]
        # A backup is a single file: no WAL to carry around with it.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()
    if result != "ok":
        os.unlink(dest)
        raise BillingError(f"the backup failed its integrity check ({result}); nothing was kept")
    return pages
