"""Versioned schema migrations, kept in PRAGMA user_version.

Each migration is frozen SQL: once released it never changes, so a database made by any
older version upgrades step by step on open. A database from a newer version is refused
(its rules may be ones this version does not know to keep).
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import TYPE_CHECKING

from .errors import DatabaseFileError

if TYPE_CHECKING:  # a report checks the version without loading Peewee
    from peewee import SqliteDatabase

    from .db import Execute

# Tables whose rows are posted history: never updated, never deleted.
POSTED_TABLES = (
    "batch", "batch_close", "encounter", "encounter_diagnosis", "charge", "receipt",
    "distribution", "application", "adjustment", "transfer", "refund",
    "day_close", "month_close", "audit_event",
)
# Tables with a posting_date: nothing may be inserted into a closed day or month.
DATED_TABLES = (
    "batch", "encounter", "charge", "receipt", "distribution", "application",
    "adjustment", "transfer", "refund",
)

V1 = """
CREATE TABLE practice (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL, npi TEXT NOT NULL DEFAULT '', tax_id TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT ''
);
CREATE TABLE provider (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    npi TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE payer (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    edi_payer_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('commercial','medicare','medicaid','self-pay','other'))
);
CREATE TABLE patient (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL UNIQUE COLLATE NOCASE,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    dob TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('F','M','X','U')),
    address TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',
    zip TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT ''
);
CREATE INDEX patient_name_key ON patient(name_key);
CREATE TABLE coverage (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    payer_id INTEGER NOT NULL REFERENCES payer(id),
    member_id TEXT NOT NULL,
    group_no TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL CHECK (priority IN (1,2,3)),
    UNIQUE (patient_id, priority)
);
CREATE TABLE procedure (
    code TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    fee INTEGER NOT NULL CHECK (fee >= 0),
    default_units INTEGER NOT NULL DEFAULT 1 CHECK (default_units > 0)
);
CREATE TABLE adjustment_reason (
    code TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('carc','office'))
);
CREATE TABLE batch (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('charge','receipt')),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    control_count INTEGER NOT NULL CHECK (control_count >= 0),
    control_total INTEGER NOT NULL,
    opened_at TEXT NOT NULL
);
CREATE INDEX batch_date ON batch(posting_date);
CREATE TABLE batch_close (
    batch_id INTEGER PRIMARY KEY REFERENCES batch(id),
    closed_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    entered_count INTEGER NOT NULL,
    entered_total INTEGER NOT NULL
);
CREATE TABLE encounter (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    provider_id INTEGER NOT NULL REFERENCES provider(id),
    payer_id INTEGER REFERENCES payer(id),
    dos TEXT NOT NULL,
    pos TEXT NOT NULL,
    batch_id INTEGER REFERENCES batch(id),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES encounter(id),
    void_reason TEXT
);
CREATE INDEX encounter_batch ON encounter(batch_id);
CREATE INDEX encounter_patient ON encounter(patient_id);
CREATE TABLE encounter_diagnosis (
    encounter_id INTEGER NOT NULL REFERENCES encounter(id),
    seq INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 12),
    code TEXT NOT NULL,
    PRIMARY KEY (encounter_id, seq)
) WITHOUT ROWID;
CREATE TABLE charge (
    id INTEGER PRIMARY KEY,
    encounter_id INTEGER NOT NULL REFERENCES encounter(id),
    line_no INTEGER NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    provider_id INTEGER NOT NULL REFERENCES provider(id),
    payer_id INTEGER REFERENCES payer(id),
    dos TEXT NOT NULL,
    pos TEXT NOT NULL,
    code TEXT NOT NULL,
    modifiers TEXT NOT NULL DEFAULT '',
    dx_pointers TEXT NOT NULL DEFAULT '1',
    units INTEGER NOT NULL CHECK (units > 0),
    fee INTEGER NOT NULL CHECK (fee >= 0),
    amount INTEGER NOT NULL,
    batch_id INTEGER REFERENCES batch(id),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES charge(id),
    CHECK ((reverses_id IS NULL AND amount >= 0) OR (reverses_id IS NOT NULL AND amount <= 0))
);
CREATE INDEX charge_encounter ON charge(encounter_id);
CREATE INDEX charge_posting ON charge(posting_date);
CREATE INDEX charge_patient ON charge(patient_id);
CREATE TABLE receipt (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER REFERENCES batch(id),
    source TEXT NOT NULL CHECK (source IN ('patient','payer')),
    patient_id INTEGER REFERENCES patient(id),
    payer_id INTEGER REFERENCES payer(id),
    method TEXT NOT NULL CHECK (method IN ('cash','check','card','eft')),
    reference TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL,
    received_date TEXT NOT NULL,
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES receipt(id),
    void_reason TEXT,
    CHECK ((source = 'patient' AND patient_id IS NOT NULL AND payer_id IS NULL)
        OR (source = 'payer' AND payer_id IS NOT NULL)),
    CHECK ((reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0))
);
CREATE INDEX receipt_posting ON receipt(posting_date);
CREATE INDEX receipt_patient ON receipt(patient_id);
CREATE INDEX receipt_payer_ref ON receipt(payer_id, reference);
CREATE TABLE distribution (
    id INTEGER PRIMARY KEY,
    receipt_id INTEGER REFERENCES receipt(id),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES distribution(id),
    void_reason TEXT
);
CREATE INDEX distribution_receipt ON distribution(receipt_id);
CREATE TABLE application (
    id INTEGER PRIMARY KEY,
    distribution_id INTEGER NOT NULL REFERENCES distribution(id),
    receipt_id INTEGER NOT NULL REFERENCES receipt(id),
    charge_id INTEGER NOT NULL REFERENCES charge(id),
    amount INTEGER NOT NULL,
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES application(id),
    CHECK ((reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0))
);
CREATE INDEX application_charge ON application(charge_id);
CREATE INDEX application_receipt ON application(receipt_id);
CREATE INDEX application_distribution ON application(distribution_id);
CREATE INDEX application_posting ON application(posting_date);
CREATE TABLE adjustment (
    id INTEGER PRIMARY KEY,
    distribution_id INTEGER NOT NULL REFERENCES distribution(id),
    charge_id INTEGER NOT NULL REFERENCES charge(id),
    reason_code TEXT NOT NULL REFERENCES adjustment_reason(code),
    amount INTEGER NOT NULL CHECK (amount <> 0),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES adjustment(id)
);
CREATE INDEX adjustment_charge ON adjustment(charge_id);
CREATE INDEX adjustment_distribution ON adjustment(distribution_id);
CREATE INDEX adjustment_posting ON adjustment(posting_date);
CREATE TABLE transfer (
    id INTEGER PRIMARY KEY,
    distribution_id INTEGER NOT NULL REFERENCES distribution(id),
    charge_id INTEGER NOT NULL REFERENCES charge(id),
    from_payer_id INTEGER REFERENCES payer(id),
    to_payer_id INTEGER REFERENCES payer(id),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES transfer(id)
);
CREATE INDEX transfer_charge ON transfer(charge_id);
CREATE INDEX transfer_distribution ON transfer(distribution_id);
CREATE INDEX transfer_posting ON transfer(posting_date);
CREATE TABLE refund (
    id INTEGER PRIMARY KEY,
    receipt_id INTEGER NOT NULL REFERENCES receipt(id),
    method TEXT NOT NULL CHECK (method IN ('cash','check','card','eft')),
    reference TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL,
    posting_date TEXT NOT NULL,
    operator TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reverses_id INTEGER UNIQUE REFERENCES refund(id),
    void_reason TEXT,
    CHECK ((reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0))
);
CREATE INDEX refund_receipt ON refund(receipt_id);
CREATE INDEX refund_posting ON refund(posting_date);
CREATE TABLE day_close (
    posting_date TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    totals TEXT NOT NULL,
    counted_cash INTEGER NOT NULL DEFAULT 0,
    counted_checks INTEGER NOT NULL DEFAULT 0,
    counted_check_count INTEGER NOT NULL DEFAULT 0,
    counted_card INTEGER NOT NULL DEFAULT 0,
    counted_eft INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE month_close (
    month TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    operator TEXT NOT NULL,
    totals TEXT NOT NULL
);
CREATE TABLE audit_event (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_event(at);
"""


def _history_triggers() -> str:
    """Triggers that make posted history append-only and closed periods read-only."""
    parts = []
    for table in POSTED_TABLES:
        for event in ("UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'posted history is never changed: {table} rows cannot be "
                f"{'updated' if event == 'UPDATE' else 'deleted'}; void with a reversing entry'); END;"
            )
    for table in DATED_TABLES:
        parts.append(
            f"CREATE TRIGGER {table}_closed_period BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM day_close WHERE posting_date = NEW.posting_date) "
            f"OR EXISTS (SELECT 1 FROM month_close WHERE month = substr(NEW.posting_date, 1, 7)) BEGIN "
            f"SELECT RAISE(ABORT, 'posting date is closed: nothing can be posted into a closed day or month'); END;"
        )
    parts.append(
        "CREATE TRIGGER day_close_month_closed BEFORE INSERT ON day_close "
        "WHEN EXISTS (SELECT 1 FROM month_close WHERE month = substr(NEW.posting_date, 1, 7)) BEGIN "
        "SELECT RAISE(ABORT, 'the month is closed'); END;"
    )
    return "\n".join(parts)


# Version 2: running balances, kept by triggers so no code path (not even a hand-run INSERT)
# can let them drift from the posted rows, and CHECK constraints so a balance can never go
# below zero. They make the open-charge and receipts-queue lists index lookups on big books.
V2 = """
CREATE TABLE charge_balance (
    charge_id INTEGER PRIMARY KEY REFERENCES charge(id),
    patient_id INTEGER NOT NULL,
    payer_id INTEGER,
    dos TEXT NOT NULL,
    balance INTEGER NOT NULL CHECK (balance >= 0)
);
INSERT INTO charge_balance (charge_id, patient_id, payer_id, dos, balance)
SELECT c.id, c.patient_id,
       COALESCE((SELECT t.to_payer_id FROM transfer t WHERE t.charge_id = c.id ORDER BY t.id DESC LIMIT 1),
                CASE WHEN EXISTS (SELECT 1 FROM transfer t WHERE t.charge_id = c.id) THEN NULL ELSE c.payer_id END),
       c.dos,
       c.amount
       + COALESCE((SELECT SUM(r.amount) FROM charge r WHERE r.reverses_id = c.id), 0)
       - COALESCE((SELECT SUM(a.amount) FROM application a WHERE a.charge_id = c.id), 0)
       - COALESCE((SELECT SUM(j.amount) FROM adjustment j WHERE j.charge_id = c.id), 0)
FROM charge c WHERE c.reverses_id IS NULL;
CREATE INDEX charge_balance_open_payer ON charge_balance(payer_id, dos) WHERE balance > 0;
CREATE INDEX charge_balance_open_patient ON charge_balance(patient_id, dos) WHERE balance > 0;

CREATE TABLE receipt_balance (
    receipt_id INTEGER PRIMARY KEY REFERENCES receipt(id),
    unapplied INTEGER NOT NULL CHECK (unapplied >= 0)
);
INSERT INTO receipt_balance (receipt_id, unapplied)
SELECT r.id,
       r.amount
       + COALESCE((SELECT SUM(v.amount) FROM receipt v WHERE v.reverses_id = r.id), 0)
       - COALESCE((SELECT SUM(a.amount) FROM application a WHERE a.receipt_id = r.id), 0)
       - COALESCE((SELECT SUM(f.amount) FROM refund f WHERE f.receipt_id = r.id), 0)
FROM receipt r WHERE r.reverses_id IS NULL;
CREATE INDEX receipt_balance_open ON receipt_balance(receipt_id) WHERE unapplied > 0;

CREATE TRIGGER charge_balance_new AFTER INSERT ON charge WHEN NEW.reverses_id IS NULL BEGIN
    INSERT INTO charge_balance (charge_id, patient_id, payer_id, dos, balance)
    VALUES (NEW.id, NEW.patient_id, NEW.payer_id, NEW.dos, NEW.amount);
END;
CREATE TRIGGER charge_balance_reversal AFTER INSERT ON charge WHEN NEW.reverses_id IS NOT NULL BEGIN
    UPDATE charge_balance SET balance = balance + NEW.amount WHERE charge_id = NEW.reverses_id;
END;
CREATE TRIGGER charge_balance_application AFTER INSERT ON application BEGIN
    UPDATE charge_balance SET balance = balance - NEW.amount WHERE charge_id = NEW.charge_id;
    UPDATE receipt_balance SET unapplied = unapplied - NEW.amount WHERE receipt_id = NEW.receipt_id;
END;
CREATE TRIGGER charge_balance_adjustment AFTER INSERT ON adjustment BEGIN
    UPDATE charge_balance SET balance = balance - NEW.amount WHERE charge_id = NEW.charge_id;
END;
CREATE TRIGGER charge_balance_transfer AFTER INSERT ON transfer BEGIN
    UPDATE charge_balance SET payer_id = NEW.to_payer_id WHERE charge_id = NEW.charge_id;
END;
CREATE TRIGGER receipt_balance_new AFTER INSERT ON receipt WHEN NEW.reverses_id IS NULL BEGIN
    INSERT INTO receipt_balance (receipt_id, unapplied) VALUES (NEW.id, NEW.amount);
END;
CREATE TRIGGER receipt_balance_reversal AFTER INSERT ON receipt WHEN NEW.reverses_id IS NOT NULL BEGIN
    UPDATE receipt_balance SET unapplied = unapplied + NEW.amount WHERE receipt_id = NEW.reverses_id;
END;
CREATE TRIGGER receipt_balance_refund AFTER INSERT ON refund BEGIN
    UPDATE receipt_balance SET unapplied = unapplied - NEW.amount WHERE receipt_id = NEW.receipt_id;
END;
CREATE TRIGGER charge_balance_no_delete BEFORE DELETE ON charge_balance BEGIN
    SELECT RAISE(ABORT, 'charge balances follow the posted rows and cannot be deleted');
END;
CREATE TRIGGER receipt_balance_no_delete BEFORE DELETE ON receipt_balance BEGIN
    SELECT RAISE(ABORT, 'receipt balances follow the posted rows and cannot be deleted');
END;
"""

def _closed_period_messages() -> str:
    """V3: the closed-period guards say where the entry can go instead.

    SQLite's RAISE takes only a literal, so the guard cannot name the date; the operations refuse
    first (inside the same transaction) with a message that names the closed date and the open
    one. This message is what a hand-written or foreign INSERT gets.
    """
    parts = []
    for table in DATED_TABLES:
        parts.append(f"DROP TRIGGER {table}_closed_period;")
        parts.append(
            f"CREATE TRIGGER {table}_closed_period BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM day_close WHERE posting_date = NEW.posting_date) "
            f"OR EXISTS (SELECT 1 FROM month_close WHERE month = substr(NEW.posting_date, 1, 7)) BEGIN "
            f"SELECT RAISE(ABORT, 'posting date is closed: nothing can be posted into a closed day or month; "
            f"post it on the current open posting date instead (F4 balancing shows it; closed days are listed "
            f"in the day_close table)'); END;"
        )
    return "\n".join(parts)


# V3 also: batch_status (every batch close, every day close with an open batch) summed a batch's
# charges and receipts by scanning the whole table; partial indexes on batch_id fix that.
# The day's voids and the month close's list of days with postings read encounter and
# distribution by posting date, which had no index. And: Σ open charge balances and Σ unapplied
# are part of every day's A/R proof (the balancing screen recomputes them on each posting).
# Partial covering indexes make them a walk over the open items only instead of a scan of
# every charge ever posted.
V3 = _closed_period_messages() + """
CREATE INDEX charge_balance_open_amount ON charge_balance(balance) WHERE balance > 0;
CREATE INDEX receipt_balance_open_amount ON receipt_balance(unapplied) WHERE unapplied > 0;
CREATE INDEX charge_batch ON charge(batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX receipt_batch ON receipt(batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX encounter_posting ON encounter(posting_date);
CREATE INDEX distribution_posting ON distribution(posting_date);
"""

# Version 4 (reports): covering indexes on the posting date of the money tables, so the day and
# month figures (store/summary.py), the month report and the as-of aging read posting-date
# ranges from the index alone instead of the wide rows.
V4 = """
CREATE INDEX charge_posting_cover ON charge(posting_date, provider_id, payer_id, code, amount, reverses_id);
CREATE INDEX application_posting_cover ON application(posting_date, charge_id, amount);
CREATE INDEX adjustment_posting_cover ON adjustment(posting_date, charge_id, amount, reason_code);
CREATE INDEX receipt_posting_cover ON receipt(posting_date, method, amount, reverses_id, payer_id);
CREATE INDEX transfer_posting_cover ON transfer(posting_date, charge_id, from_payer_id, to_payer_id, amount, reverses_id);
"""

# Version 5 (audit lookups): the events of one entry, found by what they are about, so `check`
# and a day's close can tie each entry of an open day to the event that posted it.
V5 = """
CREATE INDEX audit_event_entity ON audit_event(entity, entity_id);
"""

# Version 6 (batch corrections, store/batches.py): a batch's control figures are what the clerk
# typed from the paper stack, and a typo there used to block the day's close for good. Each
# correction is kept as its own append-only row (old and new figures, who, when, why), and the
# batch row's two control columns may change only to the figures of the latest such row, only
# while the batch and its day are open. Every other column of a batch stays unchangeable.
V6 = """
CREATE TABLE batch_correction (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batch(id),
    kind TEXT NOT NULL CHECK (kind IN ('control', 'cancel')),
    old_count INTEGER NOT NULL,
    old_total INTEGER NOT NULL,
    new_count INTEGER NOT NULL,
    new_total INTEGER NOT NULL,
    reason TEXT NOT NULL,
    operator TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX batch_correction_batch ON batch_correction(batch_id);
CREATE TRIGGER batch_correction_no_update BEFORE UPDATE ON batch_correction BEGIN
SELECT RAISE(ABORT, 'posted history is never changed: batch_correction rows cannot be updated; void with a reversing entry'); END;
CREATE TRIGGER batch_correction_no_delete BEFORE DELETE ON batch_correction BEGIN
SELECT RAISE(ABORT, 'posted history is never changed: batch_correction rows cannot be deleted; void with a reversing entry'); END;
DROP TRIGGER batch_no_update;
CREATE TRIGGER batch_no_update BEFORE UPDATE ON batch
WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind OR NEW.posting_date IS NOT OLD.posting_date
  OR NEW.operator IS NOT OLD.operator OR NEW.opened_at IS NOT OLD.opened_at
  OR EXISTS (SELECT 1 FROM batch_close WHERE batch_id = OLD.id)
  OR EXISTS (SELECT 1 FROM day_close WHERE posting_date = OLD.posting_date)
  OR NOT EXISTS (SELECT 1 FROM batch_correction c WHERE c.id = (SELECT MAX(id) FROM batch_correction
                 WHERE batch_id = OLD.id) AND c.old_count = OLD.control_count AND c.old_total = OLD.control_total
                 AND c.new_count = NEW.control_count AND c.new_total = NEW.control_total)
BEGIN
SELECT RAISE(ABORT, 'posted history is never changed: batch rows cannot be updated; void with a reversing entry'); END;
"""


# Version 7 (issue 15, roles): who may do what, kept in the books as versioned grants (a revoke is a
# grant of 'none'; the newest grant of a user is their role), and the marker of a test book (made
# by `demo` or a test; only a book without audit events can get it). An upgraded office's books
# make their first audit event's user (who ran `init`) the admin. See store/roles.py, identity.py.
V7 = """
CREATE TABLE role_grant (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','supervisor','clerk','none')),
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL
);
CREATE INDEX role_grant_user ON role_grant(user, id);
CREATE TABLE test_book (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    marked_by TEXT NOT NULL,
    marked_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TRIGGER test_book_only_new BEFORE INSERT ON test_book WHEN EXISTS (SELECT 1 FROM audit_event) BEGIN
    SELECT RAISE(ABORT, 'only a new, empty book can be made a test book');
END;
INSERT INTO role_grant (user, role, granted_by, granted_at)
SELECT user, 'admin', 'schema 7 upgrade', at FROM audit_event ORDER BY id LIMIT 1;
"""


def _v8() -> str:
    """Version 8 (issue 15, tamper evidence): day digests and the guards in store/guards.py."""
    from .guards import other_guards, replace_guards

    return """
CREATE TABLE day_digest (
    posting_date TEXT PRIMARY KEY,
    prev_digest TEXT NOT NULL,
    rows_digest TEXT NOT NULL,
    audit_id INTEGER NOT NULL,
    audit_hash TEXT NOT NULL,
    digest TEXT NOT NULL,
    sealed_at TEXT NOT NULL
);
""" + other_guards() + "\n" + replace_guards()


V8 = _v8()
# Version 9 (imports remembered, issue 15): each file imported, by the sha256 of its bytes and
# its kind, in the same transaction as what it posted, so the same file imported twice (two
# clerks, a re-run script) is refused unless --allow-duplicates.
V9 = """
CREATE TABLE import_file (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    kind TEXT NOT NULL CHECK (kind IN ('fees','patients','charges','receipts')),
    file_name TEXT NOT NULL,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    imported_at TEXT NOT NULL,
    operator TEXT NOT NULL
);
CREATE INDEX import_file_digest ON import_file(sha256, kind);
"""

# Version 10 (accounts): what claims and the account screen need.
# Master data is versioned: ``master_version`` keeps every state a patient, coverage, payer,
# provider or the practice had, with who and when (append-only); the entity tables hold the
# current state for the posting code. Coverages lose UNIQUE(patient, priority): a terminated
# plan and its successor share a priority on dates that do not overlap (the store refuses an
# overlap). Patients get folded search keys (accent- and punctuation-free), filled here by the
# ``tb_fold`` function that :func:`migrate` registers.
V10 = """
ALTER TABLE patient ADD COLUMN middle_name TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN address2 TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN phone_key TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN account_key TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_relationship TEXT NOT NULL DEFAULT 'self';
ALTER TABLE patient ADD COLUMN guarantor_last TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_first TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_address TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_city TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_state TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_zip TEXT NOT NULL DEFAULT '';
ALTER TABLE patient ADD COLUMN guarantor_phone TEXT NOT NULL DEFAULT '';
UPDATE patient SET search_key = tb_fold(last_name) || ',' || tb_fold(first_name),
    phone_key = tb_phone(phone), account_key = tb_account(account);
CREATE INDEX patient_search_key ON patient(search_key);
CREATE INDEX patient_phone_key ON patient(phone_key, search_key);
CREATE INDEX patient_account_key ON patient(account_key);
CREATE INDEX patient_dob ON patient(dob, search_key);
CREATE TABLE coverage_new (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    payer_id INTEGER NOT NULL REFERENCES payer(id),
    member_id TEXT NOT NULL,
    group_no TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL CHECK (priority IN (1,2,3)),
    relationship TEXT NOT NULL DEFAULT 'self' CHECK (relationship IN ('self','spouse','child','other')),
    subscriber_last TEXT NOT NULL DEFAULT '',
    subscriber_first TEXT NOT NULL DEFAULT '',
    subscriber_dob TEXT NOT NULL DEFAULT '',
    subscriber_sex TEXT NOT NULL DEFAULT '' CHECK (subscriber_sex IN ('','F','M','X','U')),
    subscriber_address TEXT NOT NULL DEFAULT '',
    subscriber_city TEXT NOT NULL DEFAULT '',
    subscriber_state TEXT NOT NULL DEFAULT '',
    subscriber_zip TEXT NOT NULL DEFAULT '',
    effective TEXT NOT NULL DEFAULT '',
    end_date TEXT NOT NULL DEFAULT '',
    assignment INTEGER NOT NULL DEFAULT 1 CHECK (assignment IN (0,1)),
    signature_on_file INTEGER NOT NULL DEFAULT 1 CHECK (signature_on_file IN (0,1))
);
INSERT INTO coverage_new (id, patient_id, payer_id, member_id, group_no, priority)
    SELECT id, patient_id, payer_id, member_id, group_no, priority FROM coverage;
DROP TABLE coverage;
ALTER TABLE coverage_new RENAME TO coverage;
CREATE INDEX coverage_patient ON coverage(patient_id, priority);
ALTER TABLE payer ADD COLUMN filing_code TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN zip TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN receiver TEXT NOT NULL DEFAULT '';
ALTER TABLE payer ADD COLUMN timely_filing_days INTEGER NOT NULL DEFAULT 365 CHECK (timely_filing_days > 0);
UPDATE payer SET filing_code = CASE kind WHEN 'medicare' THEN 'MB' WHEN 'medicaid' THEN 'MC'
    WHEN 'commercial' THEN 'CI' ELSE 'ZZ' END;
ALTER TABLE provider ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE provider ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE provider ADD COLUMN taxonomy TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN taxonomy TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN street TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN zip TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN pay_to_street TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN pay_to_city TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN pay_to_state TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN pay_to_zip TEXT NOT NULL DEFAULT '';
ALTER TABLE practice ADD COLUMN submitter_id TEXT NOT NULL DEFAULT '';
ALTER TABLE adjustment_reason ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
CREATE TABLE master_version (
    id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL CHECK (entity IN ('patient','coverage','payer','provider','practice','adjustment_reason')),
    entity_id INTEGER NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    on_date TEXT NOT NULL,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (entity, entity_id, version)
);
CREATE TABLE fee_schedule (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL REFERENCES procedure(code),
    payer_id INTEGER REFERENCES payer(id),
    effective TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    at TEXT NOT NULL,
    operator TEXT NOT NULL
);
CREATE INDEX fee_schedule_code ON fee_schedule(code, payer_id, effective);
CREATE TABLE account_note (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    on_date TEXT NOT NULL,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX account_note_patient ON account_note(patient_id, id);
CREATE TRIGGER master_version_no_update BEFORE UPDATE ON master_version
BEGIN SELECT RAISE(ABORT, 'master_version is history: record a new version instead'); END;
CREATE TRIGGER master_version_no_delete BEFORE DELETE ON master_version
BEGIN SELECT RAISE(ABORT, 'master_version is history: record a new version instead'); END;
CREATE TRIGGER fee_schedule_no_update BEFORE UPDATE ON fee_schedule
BEGIN SELECT RAISE(ABORT, 'fee_schedule is history: add a fee from a date instead'); END;
CREATE TRIGGER fee_schedule_no_delete BEFORE DELETE ON fee_schedule
BEGIN SELECT RAISE(ABORT, 'fee_schedule is history: add a fee from a date instead'); END;
CREATE TRIGGER account_note_no_update BEFORE UPDATE ON account_note
BEGIN SELECT RAISE(ABORT, 'account notes are kept as written: add a new note'); END;
CREATE TRIGGER account_note_no_delete BEFORE DELETE ON account_note
BEGIN SELECT RAISE(ABORT, 'account notes are kept as written: add a new note'); END;
"""

def _v11() -> str:
    """Version 11: the tables that carry history since schema 8 get the REPLACE guard (store/guards.py)."""
    from .guards import later_guards

    return later_guards()


V11 = _v11()

# In number order: the position in this list is the schema version.
MIGRATIONS: list[str] = [V1 + _history_triggers(), V2, V3, V4, V5, V6, V7, V8, V9, V10, V11]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: SqliteDatabase) -> int:
    version: int = db.execute_sql("PRAGMA user_version").fetchone()[0]  # type: ignore[no-untyped-call]
    return version


def schema_refusal(version: int, has_tables: bool) -> str | None:
    """Why a file with this ``user_version`` cannot be opened by this program (None if it can)."""
    if version > SCHEMA_VERSION:
        return (f"this database was made by a newer tui-billing (schema {version}; this program knows "
                f"up to {SCHEMA_VERSION}): upgrade tui-billing before opening it")
    if version == 0 and has_tables:
        return "this SQLite file is not a tui-billing database (it has other tables)"
    return None


def migrate(db: SqliteDatabase, target: int = SCHEMA_VERSION) -> int:
    """Apply every migration above the file's version, each in its own transaction.

    Returns the version reached. Refuses a database newer than this program.
    """
    current = schema_version(db)
    tables = db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()[0]  # type: ignore[no-untyped-call]
    refusal = schema_refusal(current, bool(tables))
    if refusal:
        raise DatabaseFileError(refusal)
    for version in range(current + 1, target + 1):
        with db.atomic():
            # Another clerk's process may have upgraded while we waited for the write lock
            # (everyone starts at once the morning after an upgrade): look again under the lock.
            if schema_version(db) >= version:
                continue
            # executescript would COMMIT; run statement by statement inside our transaction.
            conn = db.connection()  # type: ignore[no-untyped-call]  # Peewee has no type hints
            _register_functions(conn)
            for statement in _split_sql(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    return max(current, target)


def _register_functions(conn: sqlite3.Connection) -> None:
    """Python functions a migration's SQL calls (the folded search keys of V10)."""
    from . import search_keys

    conn.create_function("tb_fold", 1, search_keys.fold, deterministic=True)
    conn.create_function("tb_phone", 1, search_keys.phone_key, deterministic=True)
    conn.create_function("tb_account", 1, search_keys.account_key, deterministic=True)


def _split_sql(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies contain semicolons)."""
    import sqlite3

    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


# --------------------------------------------------------------------------- the schema check


@lru_cache(maxsize=1)
def expected_schema() -> dict[tuple[str, str], str]:
    """(type, name) -> SQL of every table, index and trigger a fresh database of this version holds."""
    con = sqlite3.connect(":memory:")
    try:
        _register_functions(con)
        for script in MIGRATIONS:
            for statement in _split_sql(script):
                con.execute(statement)
        return {(t, n): sql for t, n, sql in con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")}
    finally:
        con.close()


def schema_problems(execute: Execute, limit: int = 10) -> list[str]:
    """Every table, index and trigger whose SQL differs from this schema version's (or is missing, or extra)."""
    have = {(t, n): sql for t, n, sql in execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'", ()).fetchall()}
    want = expected_schema()
    problems = []
    missing = sorted(n for (t, n) in want if (t, n) not in have)
    if missing:
        problems.append(f"history guards are missing (someone dropped triggers, tables or indexes): {', '.join(missing[:limit])}")
    changed = sorted(n for k, n in ((k, k[1]) for k in want) if k in have and have[k] != want[k])
    if changed:
        problems.append("these triggers, tables or indexes were replaced by ones with different SQL (a guard that "
                        f"no longer guards?): {', '.join(changed[:limit])}")
    # An extra trigger can rewrite history as it is posted; an extra table or index cannot touch ours.
    extra = sorted(n for (t, n) in have if (t, n) not in want and t == "trigger")
    if extra:
        problems.append(f"triggers this schema version does not have were added: {', '.join(extra[:limit])}")
    return problems
