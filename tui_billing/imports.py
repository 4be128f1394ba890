"""CSV imports: the fee schedule, patients with coverages, superbill charges, receipts.

Each row goes through the same store operation a screen would call, so an import obeys exactly
the rules of the screens. A file is one transaction: every row is tried (each in its own
savepoint, so a refused row leaves nothing behind), every bad row is reported with its line
number and reason, and unless every row was good (and this is not a dry run) the whole file is
rolled back. Formats are documented in the README, with a sample of each in docs/samples/.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .account_io import ACCOUNT_COLUMNS, NEW_COLUMNS, import_fee_row, import_patient_row
from .money import MoneyError, parse_cents
from .store import operations as ops
from .store.db import database, write
from .store.errors import BillingError
from .text import inert

#: Columns each kind of file must have (others are optional; unknown columns are refused).
REQUIRED = {
    "fees": ("code", "description", "fee"),
    "patients": ("account", "last_name", "first_name", "dob", "sex"),
    "charges": ("encounter", "account", "provider", "dos", "diagnoses", "code"),
    "receipts": ("amount", "method"),
}
OPTIONAL = {
    "fees": ("units", "effective", "payer"),
    "patients": ("address", "city", "state", "zip", "phone", *ACCOUNT_COLUMNS),
    "charges": ("pos", "payer", "modifiers", "pointers", "units", "fee"),
    "receipts": ("account", "payer", "reference", "received_date"),
}


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing columns, not UTF-8 text): exit 1."""


class RowError(Exception):
    """One row is wrong; the message says why."""


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def summary(self) -> str:
        """"2 encounters, 1 charge line": the counts are kept under plural nouns ending in s."""
        return ", ".join(f"{n} {what if n != 1 else what[:-1]}" for what, n in self.counts.items()) or "nothing"


class _Rollback(Exception):
    """Raised inside the transaction to undo it (a dry run, or a file with bad rows)."""


def read_rows(kind: str, path: Path) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line number, {column: text}), after checking the header."""
    return read_file(kind, path)[0]


def read_file(kind: str, path: Path) -> tuple[list[tuple[int, dict[str, str]]], str]:
    """The file's rows (see :func:`read_rows`) and the sha256 of the very bytes they came from."""
    import hashlib
    import io

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if not header:
            raise ImportFileError(f"{path} is empty: the first line must name the columns")
        seen: dict[str, int] = {}
        for n, name in enumerate(header, start=1):
            if name in seen:  # DictReader would keep the last one's cells and drop the first's
                raise ImportFileError(inert(f"{path}:{reader.line_num}: column {name!r} appears twice (columns "
                                            f"{seen[name]} and {n}); each column may be given once"))
            seen[name] = n
        missing = [c for c in REQUIRED[kind] if c not in header]
        if missing:
            raise ImportFileError(f"{path}: missing column(s) {', '.join(missing)} "
                                  f"(a {kind} file needs {', '.join(REQUIRED[kind])})")
        unknown = [c for c in header if c not in REQUIRED[kind] and c not in OPTIONAL[kind]]
        if unknown:
            # the file's own text: inert, so a header cannot drive the terminal it is echoed to
            raise ImportFileError(inert(f"{path}: unknown column(s) {', '.join(unknown)}"))
        reader.fieldnames = header
        rows = []
        line = reader.line_num
        for row in reader:
            start = line + 1
            line = reader.line_num
            if None in row:
                rows.append((start, {"__error__": "more cells than columns"}))
                continue
            rows.append((start, {k: (v or "").strip() for k, v in row.items()}))
        return rows, digest
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ImportFileError(inert(f"{path}: {exc}")) from None


def _money(text: str, what: str, *, allow_zero: bool = True) -> int:
    try:
        return parse_cents(text, allow_zero=allow_zero)
    except MoneyError as exc:
        raise RowError(f"{what}: {exc}") from None


def _int(text: str, what: str, default: int = 1) -> int:
    if not text:
        return default
    if not text.isdigit():
        raise RowError(f"{what} must be a whole number (got {text!r})")
    return int(text)


class _Lookup:
    """Codes in a file -> ids in the books (patients by account, payers and providers by code)."""

    def __init__(self) -> None:
        q = database.execute_sql
        self.allow_duplicates = False
        self.payers = {c.upper(): i for i, c in q("SELECT id, code FROM payer").fetchall()}
        self.providers = {c.upper(): i for i, c in q("SELECT id, code FROM provider").fetchall()}

    def payer(self, code: str) -> int:
        pid = self.payers.get(code.strip().upper())
        if pid is None:
            raise RowError(f"payer {code!r} is not in the books")
        return pid

    def provider(self, code: str) -> int:
        pid = self.providers.get(code.strip().upper())
        if pid is None:
            raise RowError(f"provider {code!r} is not in the books")
        return pid

    def patient(self, account: str) -> int:
        row = database.execute_sql("SELECT id FROM patient WHERE account = ?", (account.strip(),)).fetchone()
        if not row:
            raise RowError(f"no patient with account {account!r}")
        return row[0]


# --------------------------------------------------------------------------- one kind each


def _fees(rows, lookup: _Lookup, result: ImportResult, posting_date, each) -> None:
    for line, row in rows:
        def go(row=row):
            if row.get("effective") or row.get("payer"):  # a dated fee or a payer's allowed amount
                import_fee_row(row, _money(row["fee"], "fee"), _int(row.get("units", ""), "units"), lookup.payer)
            else:
                ops.set_procedure(row["code"], row["description"], _money(row["fee"], "fee"),
                                  _int(row.get("units", ""), "units"))
            result.add("fee schedule lines")
        each(line, go)


def _patients(rows, lookup: _Lookup, result: ImportResult, posting_date, each) -> None:
    for line, row in rows:
        def go(row=row):
            if any(row.get(c) for c in NEW_COLUMNS):
                n = import_patient_row(row, lookup.payer)  # the fuller columns, the account screen's rules
                result.add("patients")
                result.add("coverages", n)
                return
            covs = []
            for n in (1, 2, 3):
                payer = row.get(f"payer{n}", "")
                if payer:
                    member = row.get(f"member_id{n}", "")
                    if not member:
                        raise RowError(f"coverage {n}: member_id{n} is required with payer{n}")
                    covs.append(ops.CoverageIn(lookup.payer(payer), member, n, row.get(f"group_no{n}", "")))
                elif row.get(f"member_id{n}"):
                    raise RowError(f"coverage {n}: member_id{n} given without payer{n}")
            ops.add_patient(row["account"], row["last_name"], row["first_name"], row["dob"], row["sex"],
                            address=row.get("address", ""), city=row.get("city", ""), state=row.get("state", ""),
                            zip=row.get("zip", ""), phone=row.get("phone", ""), coverages=covs)
            result.add("patients")
            result.add("coverages", len(covs))
        each(line, go)


def _charges(rows, lookup: _Lookup, result: ImportResult, posting_date, each) -> None:
    # Superbill rows sharing an encounter key are one encounter: the header fields come from its
    # first row and must agree on the others.
    groups: dict[str, list[tuple[int, dict]]] = {}
    for line, row in rows:
        groups.setdefault(row.get("encounter", "") or f"line {line}", []).append((line, row))
    for key, members in groups.items():
        first_line, head = members[0]

        def go(members=members, head=head, key=key):
            for line, row in members[1:]:
                for col in ("account", "provider", "dos", "pos", "payer", "diagnoses"):
                    if row.get(col, "") and row.get(col, "") != head.get(col, ""):
                        raise RowError(f"line {line}: {col} {row.get(col)!r} differs from the encounter's first "
                                       f"row ({head.get(col)!r}) for encounter {key!r}")
            if len(members) > 6:
                raise RowError(f"encounter {key!r} has {len(members)} lines; at most 6")
            payer_text = head.get("payer", "").strip()
            if not payer_text or payer_text.lower() == "primary":
                payer: int | None | str = ops.PRIMARY
            elif payer_text.lower() in ("self", "patient", "self-pay"):
                payer = None
            else:
                payer = lookup.payer(payer_text)
            lines = []
            for _line, row in members:
                pointers = row.get("pointers", "") or "1"
                try:
                    dx_pointers = tuple(int(p) for p in pointers.replace(";", " ").split())
                except ValueError:
                    raise RowError(f"pointers must be numbers like '1 2' (got {pointers!r})") from None
                mods = tuple(m for m in row.get("modifiers", "").replace(";", " ").split() if m)
                fee = _money(row["fee"], "fee") if row.get("fee") else None
                lines.append(ops.ChargeLine(row["code"], _int(row.get("units", ""), "units"), fee, mods, dx_pointers))
            diagnoses = [d for d in head["diagnoses"].replace(";", " ").split() if d]
            ops.post_encounter(patient_id=lookup.patient(head["account"]), provider_id=lookup.provider(head["provider"]),
                               dos=head["dos"], diagnoses=diagnoses, lines=lines, pos=head.get("pos") or "11",
                               payer_id=payer, posting_date=posting_date)
            result.add("encounters")
            result.add("charge lines", len(lines))
        each(first_line, go, len(members))


def _receipts(rows, lookup: _Lookup, result: ImportResult, posting_date, each) -> None:
    for line, row in rows:
        def go(row=row):
            account, payer = row.get("account", ""), row.get("payer", "")
            if bool(account) == bool(payer):
                raise RowError("give either account (a patient paid) or payer (an insurer paid)")
            posted = ops.record_receipt(
                amount=_money(row["amount"], "amount", allow_zero=False), method=row["method"].strip().lower(),
                patient_id=lookup.patient(account) if account else None,
                payer_id=lookup.payer(payer) if payer else None, reference=row.get("reference", ""),
                received_date=row.get("received_date") or None, posting_date=posting_date)
            if posted.possible_duplicates and not lookup.allow_duplicates:
                # the screen asks the clerk; a file re-imported by mistake must not post the money twice
                raise RowError(f"same payer and reference {row.get('reference', '')!r} as receipt(s) "
                               f"{', '.join(map(str, posted.possible_duplicates))}: a file imported twice? "
                               "(--allow-duplicates if it really is another payment)")
            result.add("receipts")
        each(line, go)


_KINDS: dict[str, Callable] = {"fees": _fees, "patients": _patients, "charges": _charges, "receipts": _receipts}


class _Progress:
    """A progress bar on stderr for long files, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if total >= 200 and sys.stderr.isatty():
            import click

            self.bar = click.progressbar(length=total, label="checking and posting", file=sys.stderr)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def run_import(kind: str, path: Path, *, dry_run: bool = False, posting_date: str | None = None,
               allow_duplicates: bool = False) -> ImportResult:
    """Import a file as one transaction: all of it, or (with any bad row, or a dry run) none of it.

    A file whose bytes were imported before as the same kind is refused (ImportFileError) unless
    ``allow_duplicates``; the import is remembered in the same transaction as its rows.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown import kind {kind}")
    rows, digest = read_file(kind, Path(path))
    result = ImportResult(kind, rows=len(rows), dry_run=dry_run)

    @write
    def transaction() -> None:
        from .store.imported import previous_imports, record_import
        from .store.validate import operator

        result.errors.clear()
        result.counts.clear()
        earlier = previous_imports(digest, kind)
        if earlier and not allow_duplicates:
            first = earlier[0]
            raise ImportFileError(inert(
                f"{path}: this very file was already imported as {kind} ({first.rows} row(s) from "
                f"{first.file_name}, {first.imported_at}, by {first.operator}"
                f"{f'; {len(earlier)} times in all' if len(earlier) > 1 else ''}); nothing was imported. "
                "Pass --allow-duplicates if it really is new work"))
        lookup = _Lookup()
        lookup.allow_duplicates = allow_duplicates

        def each(line: int, go: Callable[[], None], rows_done: int = 1) -> None:
            progress.step(rows_done)
            bad = rows_by_line.get(line)
            if bad:
                result.errors.append((line, bad))
                return
            try:
                with database.atomic():  # a savepoint: a refused row leaves nothing behind
                    go()
            except (BillingError, RowError) as exc:
                result.errors.append((line, str(exc)))

        with _Progress(len(rows)) as progress:
            _KINDS[kind](rows, lookup, result, posting_date, each)
        result.errors.sort()
        if result.errors or dry_run:
            raise _Rollback()
        record_import(digest, kind, Path(path).name, len(rows), operator())

    rows_by_line = {line: row["__error__"] for line, row in rows if "__error__" in row}
    try:
        transaction()
    except _Rollback:
        pass
    return result
