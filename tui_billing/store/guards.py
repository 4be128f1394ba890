"""The database's own guards on history, and `check`'s proof that they are the ones we wrote.

Schema 1 guarded posted tables against UPDATE and DELETE only. With ``recursive_triggers`` off
(SQLite's default), ``INSERT OR REPLACE`` deletes the row it collides with *without* firing a
DELETE trigger, so schema 8 adds a BEFORE INSERT trigger per unique key of every history table
that refuses a key that is already there (:func:`replace_guards`), guards the tables that had none
(an encounter's diagnoses and a batch's close in a closed period, the running balances' fixed
columns, the role grants, the test-book marker, the day digests), and ``migrations.schema_problems``
compares every trigger, table and index, in full SQL, with what a fresh database made by the
same migrations holds: a dropped guard, a same-named guard that does nothing, a table rebuilt
without its CHECKs, or an extra trigger are each named (an extra table or index is not: it cannot
touch ours).
"""

from __future__ import annotations

#: Every unique key of every table that carries history: (table, key columns).
HISTORY_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("batch", ("id",)), ("batch_close", ("batch_id",)),
    ("encounter", ("id",)), ("encounter", ("reverses_id",)), ("encounter_diagnosis", ("encounter_id", "seq")),
    ("charge", ("id",)), ("charge", ("reverses_id",)),
    ("receipt", ("id",)), ("receipt", ("reverses_id",)),
    ("distribution", ("id",)), ("distribution", ("reverses_id",)),
    ("application", ("id",)), ("application", ("reverses_id",)),
    ("adjustment", ("id",)), ("adjustment", ("reverses_id",)),
    ("transfer", ("id",)), ("transfer", ("reverses_id",)),
    ("refund", ("id",)), ("refund", ("reverses_id",)),
    ("day_close", ("posting_date",)), ("month_close", ("month",)), ("audit_event", ("id",)),
    ("charge_balance", ("charge_id",)), ("receipt_balance", ("receipt_id",)),
    ("role_grant", ("id",)), ("test_book", ("id",)), ("day_digest", ("posting_date",)),
)
#: History tables that schema 1 did not guard against UPDATE and DELETE.
NEW_APPEND_ONLY = ("role_grant", "test_book", "day_digest")
#: History tables added after schema 8 (batch corrections, imported files, master-data versions,
#: dated fees, account notes): schema 11 gives them the same REPLACE guard.
LATER_HISTORY_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("batch_correction", ("id",)), ("import_file", ("id",)), ("master_version", ("id",)),
    ("master_version", ("entity", "entity_id", "version")), ("fee_schedule", ("id",)), ("account_note", ("id",)),
)


def replace_guards(keys: tuple[tuple[str, tuple[str, ...]], ...] = HISTORY_KEYS) -> str:
    """BEFORE INSERT triggers refusing a key that exists (what INSERT OR REPLACE would delete)."""
    parts = []
    for table, key in keys:
        match = " AND ".join(f"{c} = NEW.{c}" for c in key)  # `= NULL` never matches: a new row passes
        parts.append(
            f"CREATE TRIGGER {table}_no_replace_{'_'.join(key)} BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {match}) BEGIN "
            f"SELECT RAISE(ABORT, 'posted history is never replaced: {table} already has this "
            f"{'/'.join(key)}; void with a reversing entry'); END;")
    return "\n".join(parts)


def append_only(tables: tuple[str, ...]) -> str:
    """UPDATE and DELETE refused on each table."""
    return "\n".join(
        f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'history is never changed: {table} rows cannot be {verb}'); END;"
        for table in tables for event, verb in (("UPDATE", "updated"), ("DELETE", "deleted")))


def later_guards() -> str:
    """Schema 11: the REPLACE guard for the later history tables; imported files become append-only too."""
    return replace_guards(LATER_HISTORY_KEYS) + "\n" + append_only(("import_file",))


def other_guards() -> str:
    """Update/delete guards for the newer history tables, closed periods for undated rows, balances' fixed columns."""
    parts = [append_only(NEW_APPEND_ONLY)]
    for table, date_of in (
        ("encounter_diagnosis", "SELECT posting_date FROM encounter WHERE id = NEW.encounter_id"),
        ("batch_close", "SELECT posting_date FROM batch WHERE id = NEW.batch_id"),
    ):
        parts.append(
            f"CREATE TRIGGER {table}_closed_period BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM day_close WHERE posting_date = ({date_of})) "
            f"OR EXISTS (SELECT 1 FROM month_close WHERE month = substr(({date_of}), 1, 7)) BEGIN "
            f"SELECT RAISE(ABORT, 'posting date is closed: nothing can be added to an entry of a closed day or month'); END;")
    parts.append("CREATE TRIGGER charge_balance_fixed BEFORE UPDATE OF charge_id, patient_id, dos ON charge_balance BEGIN "
                 "SELECT RAISE(ABORT, 'a running balance belongs to its charge: its charge, patient and date never change'); "
                 "END;")
    parts.append("CREATE TRIGGER receipt_balance_fixed BEFORE UPDATE OF receipt_id ON receipt_balance BEGIN "
                 "SELECT RAISE(ABORT, 'a running balance belongs to its receipt'); END;")
    parts.append("CREATE TRIGGER day_digest_needs_close BEFORE INSERT ON day_digest "
                 "WHEN NOT EXISTS (SELECT 1 FROM day_close WHERE posting_date = NEW.posting_date) BEGIN "
                 "SELECT RAISE(ABORT, 'a day digest seals a closed day'); END;")
    return "\n".join(parts)


#: Claims (issue 13, schema 12): the claim records, their lines and status events, the EDI and
#: paper files, and the receivers' settings are history too.
CLAIM_HISTORY_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("claim", ("id",)), ("claim", ("claim_id",)), ("claim_line", ("id",)), ("claim_line", ("control_number",)),
    ("claim_event", ("id",)), ("claim_file", ("id",)), ("claim_receiver", ("id",)),
)
CLAIM_APPEND_ONLY = ("claim", "claim_line", "claim_event", "claim_file", "claim_receiver")


def claim_guards() -> str:
    """Schema 12: claims are never edited (a correction is a new claim), events and files never changed;
    a receiver's control numbers only ever go up, and a claim's current status is its latest event."""
    return "\n".join([
        replace_guards(CLAIM_HISTORY_KEYS), append_only(CLAIM_APPEND_ONLY),
        "CREATE TRIGGER claim_counter_forward BEFORE UPDATE ON claim_counter "
        "WHEN NEW.receiver IS NOT OLD.receiver OR NEW.interchange <= OLD.interchange OR NEW.grp <= OLD.grp BEGIN "
        "SELECT RAISE(ABORT, 'control numbers only go forward: a receiver never sees one twice'); END;",
        "CREATE TRIGGER claim_counter_no_delete BEFORE DELETE ON claim_counter BEGIN "
        "SELECT RAISE(ABORT, 'control numbers only go forward: a receiver never sees one twice'); END;",
        "CREATE TRIGGER claim_status_follows_events BEFORE UPDATE ON claim_status "
        "WHEN NEW.claim_id IS NOT OLD.claim_id OR NEW.event_id IS NOT "
        "(SELECT MAX(id) FROM claim_event WHERE claim_id = NEW.claim_id) OR NOT EXISTS "
        "(SELECT 1 FROM claim_event WHERE id = NEW.event_id AND status = NEW.status AND on_date = NEW.since) BEGIN "
        "SELECT RAISE(ABORT, 'a claim''s status is its latest event: record an event instead'); END;",
        "CREATE TRIGGER claim_status_no_delete BEFORE DELETE ON claim_status BEGIN "
        "SELECT RAISE(ABORT, 'a claim''s status is its latest event: record an event instead'); END;",
    ])
