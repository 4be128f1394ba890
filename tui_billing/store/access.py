"""Reads of patient data leave an audit event (HIPAA audit controls: who looked at what, when).

A statement, a patient receipt or an export shows patient data: before any of it is written out,
one ``read_<what>`` event goes into the audit trail in its own short write transaction, on
whichever connection has the books open (a report's plain read connection, or the store's). If
the event cannot be written (books read-only to this user, disk full), the read is refused: an
unrecorded look at patient data is what the audit exists to prevent.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from . import identity
from .errors import BillingError

#: Command paths (``report statement`` ...) whose output is patient data.
PATIENT_READS = {"report statement": "read_statement", "report receipt": "read_receipt",
                 "export journal": "read_export"}


def record_read(action: str, detail: dict[str, Any]) -> None:
    """Write one audit event for a read, in a transaction of its own (never inside a read snapshot)."""
    from . import db
    from .audit import canonical

    user = identity.operator_name()
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = canonical(detail)
    con = db._reader
    try:
        if con is None:
            from .audit import record

            try:
                db.write(lambda: record(at, user, action, "read", None, detail))()
            except BillingError as exc:  # the books held too long, or (a server) the login may not write
                raise BillingError(f"this read of patient data cannot be recorded in the audit trail ({exc}); "
                                   "nothing was shown") from exc
            return
        try:
            _append_read_event(con, at, user, action, text)
        except sqlite3.OperationalError:
            # nothing was written; a passing failure (busy, I/O: SQLite may cancel the whole
            # transaction itself) passes on a second try, a lasting one (read-only) refuses below
            _append_read_event(con, at, user, action, text)
    except BillingError:
        raise
    except Exception as exc:  # sqlite3 or Peewee: read-only, locked too long, disk full
        raise BillingError(f"this read of patient data cannot be recorded in the audit trail ({exc}); "
                           "nothing was shown") from exc


def _append_read_event(con: sqlite3.Connection, at: str, user: str, action: str, text: str) -> None:
    """One chained audit row on a report's plain connection, in its own IMMEDIATE transaction."""
    from .audit import GENESIS, event_hash

    con.execute("BEGIN IMMEDIATE")
    try:
        row = con.execute("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        prev = row[0] if row else GENESIS
        con.execute("INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (at, user, action, "read", None, text, prev, event_hash(prev, at, user, action, "read", None, text)))
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # else SQLite already rolled it back: keep the error that did it
            con.execute("ROLLBACK")
        raise


def record_command(command_path: str, params: dict[str, Any]) -> None:
    """The CLI's hook: record the read if ``command_path`` shows patient data (else nothing)."""
    name = command_path.split(" ", 1)[1] if " " in command_path else command_path
    action = PATIENT_READS.get(name)
    if action:
        record_read(action, {k: v if isinstance(v, (int, bool, type(None))) else str(v) for k, v in params.items()})
