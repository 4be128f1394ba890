"""Backup and restore of the whole books.

A backup uses SQLite's online backup API (never a file copy, which can tear a live database),
into a private temporary file beside the destination that is verified, synced and only then
renamed: a killed or disk-full backup leaves nothing under the name asked for.

A restore checks the backup (integrity, our schema), refuses while anyone has the books open
(SQLite's own file locks say so), folds the current file's ``-wal`` into it and keeps it aside
under a timestamped name (a hard link), and renames a private, verified copy of the backup over
the books: killed at any moment, the path holds the old books or the new, never neither, and
never beside a stale ``-wal``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..files import DiskFullError, atomic_path, creation_mode, disk_full_message, fsync_directory, is_disk_full
from .errors import BillingError

#: Tables every tui-billing database has had since schema 1: a file without them is not our books.
CORE_TABLES = frozenset({"practice", "patient", "payer", "provider", "procedure", "batch", "encounter", "charge",
                         "receipt", "distribution", "application", "adjustment", "day_close", "audit_event"})

#: SQLite's lock bytes in the database file (PENDING, RESERVED and the SHARED range, see
#: os_unix.c): every connection that has read the books holds a shared lock in this range.
_DB_LOCK_START, _DB_LOCK_LENGTH = 0x40000000, 512
#: The "dead man switch" byte of a WAL database's -shm file: every connection holds it shared.
_SHM_DMS_BYTE = 128


def _verify(con: sqlite3.Connection, what: str) -> int:
    """Integrity and schema of an open copy; returns its page count. Raises BillingError."""
    from .migrations import SCHEMA_VERSION, schema_refusal

    result = con.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BillingError(f"{what} failed SQLite's integrity check ({result})")
    version = con.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    refusal = schema_refusal(version, bool(tables))
    if refusal:
        raise BillingError(f"{what}: {refusal}")
    missing = CORE_TABLES - tables
    if version < 1 or version > SCHEMA_VERSION or missing:
        raise BillingError(f"{what} is not a tui-billing database (missing {', '.join(sorted(missing)) or 'a schema'})")
    pages: int = con.execute("PRAGMA page_count").fetchone()[0]
    return pages


def backup_to(dest: Path, *, force: bool = False) -> int:
    """Copy the open database to ``dest`` (0600, whole or absent) and verify the copy. Returns its page count."""
    from .db import database

    dest = Path(dest).expanduser()
    source_name = Path(database.database or "the books")
    try:
        with atomic_path(dest, replace=force) as temp:
            target = sqlite3.connect(temp, isolation_level=None)
            try:
                database.connection().backup(target)
                # A backup is a single file: no WAL to carry around with it.
                target.execute("PRAGMA journal_mode = DELETE")
                pages = _verify(target, "the copy")
            finally:
                target.close()
    except BillingError as exc:
        if isinstance(exc, DiskFullError):
            raise
        if "integrity" in str(exc) or "not a tui-billing" in str(exc):
            raise BillingError(f"{exc}: the books at {source_name} may be damaged (run `tui-billing check`); "
                               f"no backup was written to {dest}") from exc
        raise
    except sqlite3.DatabaseError as exc:
        if is_disk_full(exc):
            raise DiskFullError(disk_full_message(dest, exc)) from exc
        raise BillingError(f"cannot back up {source_name} ({exc}): the books may be damaged (run `tui-billing "
                           f"check`); no backup was written to {dest}") from exc
    return pages


# --------------------------------------------------------------------------- restore


def _lock_range(fd: int, start: int, length: int) -> bool:
    """Take a write lock on bytes of a file without waiting (True if taken)."""
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


@contextlib.contextmanager
def _nobody_else(path: Path) -> Iterator[None]:
    """Hold SQLite's locks on ``path`` exclusively for the swap, or refuse if anyone holds them.

    SQLite (unix VFS) takes POSIX locks: a connection that has read the books holds a shared lock
    on the database file's lock bytes and on its -shm file's DMS byte for as long as it is open.
    Taking those as write locks fails while any other process has the books open, and while held,
    keeps a new one from starting to read the file being replaced.
    """
    opened: list[int] = []
    try:
        for name, start, length in ((path, _DB_LOCK_START, _DB_LOCK_LENGTH),
                                    (Path(f"{path}-shm"), _SHM_DMS_BYTE, 1)):
            try:
                fd = os.open(name, os.O_RDWR)
            except FileNotFoundError:
                continue
            opened.append(fd)
            if not _lock_range(fd, start, length):
                raise BillingError(f"someone has the books at {path} open (a billing screen, a report or a "
                                   "backup): ask everyone to quit tui-billing, then restore again; nothing was changed")
        yield
    finally:
        for fd in opened:
            os.close(fd)  # closing releases the locks


def _aside_name(path: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    n = 1
    while any(Path(f"{aside}{s}").exists() for s in ("", "-wal", "-shm")):
        n += 1
        aside = path.with_name(f"{path.name}.before-restore-{stamp}-{n}")
    return aside


def restore_from(backup: Path, path: Path) -> Path | None:
    """Put a verified copy of ``backup`` at ``path``. Returns where the old file was kept (None if there was none).

    The old file keeps its ``-wal`` and ``-shm`` beside it under the same new name (so opening
    it later still replays what its WAL held). Refuses, changing nothing, while anyone has the
    books open, or when the backup is damaged or not our schema.
    """
    backup, path = Path(backup).expanduser(), Path(path).expanduser()
    if not backup.is_file():
        raise BillingError(f"no backup file at {backup}")
    if path.is_dir():
        raise BillingError(f"{path} is a directory: give the database file's path")
    if path.exists() and backup.resolve() == path.resolve():
        raise BillingError(f"{backup} is the books themselves, not a backup of them")
    with open(backup, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BillingError(f"{backup} is not a tui-billing backup (not an SQLite file)")
    # 1. check the backup where it lies (read-only, nothing written to it)
    try:
        con = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            _verify(con, f"the backup {backup}")
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BillingError(f"the backup {backup} cannot be read ({exc}); nothing was changed") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    # 2. a private, synced, verified copy beside the books: a full disk stops us here, before
    #    anything of the old file has moved
    with atomic_path(path.with_name(f".{path.name}.restoring"), replace=True) as temp:
        try:
            _copy(backup, temp)
            con = sqlite3.connect(temp, isolation_level=None)
            try:
                _verify(con, f"the copy of {backup}")
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise DiskFullError(disk_full_message(path, exc)) from exc
            raise BillingError(f"the copy of {backup} cannot be made ({exc}); nothing was changed") from exc
    staged = path.with_name(f".{path.name}.restoring")
    try:
        with _nobody_else(path):
            pass  # refuse before touching anything while a clerk has the books open
        # Fold the old file's WAL into it (we are its only user): from here on the old books
        # are one file, so there is no moment at which a kill leaves the path without them.
        folded = _fold_wal(path) if path.exists() else True
        with _nobody_else(path):
            if folded and Path(f"{path}-wal").exists() and Path(f"{path}-wal").stat().st_size:
                raise BillingError(f"someone opened the books at {path} during the restore: restore again once "
                                   "everyone has quit; nothing was changed")
            aside = _keep_aside(path) if path.exists() else None
            # The old sidecars are kept under the aside name; under the live name they would be
            # replayed into the restored file (a stale -wal beside a new database corrupts it).
            for suffix in ("-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}{suffix}")
            os.replace(staged, path)  # atomic: the path holds the old books or the new, never neither
            fsync_directory(path.parent)
    except OSError as exc:
        if is_disk_full(exc, path):
            raise DiskFullError(disk_full_message(path, exc)) from exc
        raise BillingError(f"cannot restore over {path}: {exc.strerror or exc}; nothing was changed") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(staged)  # still there only if the swap was refused
    return aside


def _fold_wal(path: Path) -> bool:
    """Checkpoint the old books' WAL into the file and close (SQLite then removes the -wal).
    False when the file is too damaged for that: its -wal is then kept aside beside it."""
    try:
        con = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return False
    return True


def _keep_aside(path: Path) -> Path:
    """Hard-link the old file (and any sidecar) under a timestamped name; the live name keeps
    them too until the restored file replaces it. Returns the aside name."""
    import shutil

    aside = _aside_name(path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        old = Path(f"{path}{suffix}")
        if not old.exists():
            continue
        try:
            os.link(old, f"{aside}{suffix}")
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            shutil.copy2(old, f"{aside}{suffix}")  # a filesystem without hard links
    return aside


def _copy(src: Path, dest: Path) -> None:
    """Copy a backup with SQLite's backup API (so a -wal someone left beside it is included)."""
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(dest, isolation_level=None)
    try:
        source.backup(target)
        # WAL, as the live books always are: every reader then holds SQLite's locks while it has
        # the file open, which is what a later restore looks for (closing removes the -wal again)
        target.execute("PRAGMA journal_mode = WAL")
    finally:
        target.close()
        source.close()
    os.chmod(dest, creation_mode(dest.parent))
