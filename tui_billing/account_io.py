"""Patients and fees in and out of CSV with the accounts' fuller columns (no Textual here).

``import patients`` reads these columns beside the original ones (a row that uses any of them
is registered with the account screen's own checks); ``export patients`` writes the same
header, so an export reads back in. The export is patient data: written 0600, under its final
name only once complete.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .store import accounts as acc
from .store.errors import BillingError

__all__ = ["ACCOUNT_COLUMNS", "NEW_COLUMNS", "import_fee_row", "import_patient_row", "write_patients_csv"]

PATIENT_EXTRA = ("middle_name", "address2", "guarantor_relationship", "guarantor_last", "guarantor_first",
                 "guarantor_address", "guarantor_city", "guarantor_state", "guarantor_zip", "guarantor_phone")
COVERAGE_COLUMNS = ("payer", "member_id", "group_no", "relationship", "subscriber_last", "subscriber_first",
                    "subscriber_dob", "subscriber_sex", "effective", "end_date")
#: Optional columns of a patients file beyond the address: demographics, guarantor, coverages 1-3.
ACCOUNT_COLUMNS = PATIENT_EXTRA + tuple(f"{c}{n}" for n in (1, 2, 3) for c in COVERAGE_COLUMNS)
#: Those a file of the original format never has: a row using one is read by :func:`import_patient_row`.
NEW_COLUMNS = tuple(c for c in ACCOUNT_COLUMNS if c.rstrip("123") not in ("payer", "member_id", "group_no"))


def import_patient_row(row: dict[str, str], payer: Callable[[str], int]) -> int:
    """Register one patient row with its coverages; returns how many coverages."""
    base = ("last_name", "first_name", "dob", "sex", "address", "city", "state", "zip", "phone")
    values = {k: row.get(k, "") for k in base + PATIENT_EXTRA}
    values["guarantor_relationship"] = values["guarantor_relationship"] or "self"
    patient = acc.PatientIn(**values)
    covs = []
    for n in (1, 2, 3):
        code = row.get(f"payer{n}", "")
        if not code:
            if any(row.get(f"{c}{n}") for c in COVERAGE_COLUMNS):
                raise BillingError(f"coverage {n}: payer{n} is required with its other columns", f"payer{n}")
            continue
        # the file's text for each CoverageDetails field its columns name (the fields check it)
        cov_values: dict[str, Any] = {c: row.get(f"{c}{n}", "") for c in COVERAGE_COLUMNS[1:]}
        cov_values["relationship"] = cov_values["relationship"] or "self"
        covs.append(acc.CoverageDetails(payer_id=payer(code), priority=n, **cov_values))
    # an office moving its files in may well hold two people of one name and birth date
    acc.register_patient(patient, covs, account=row["account"], allow_duplicate=True)
    return len(covs)


def import_fee_row(row: dict[str, str], fee: int, units: int, payer: Callable[[str], int]) -> None:
    """A fee from a date onward, or (with ``payer``) that payer's allowed amount for the code."""
    payer_id = payer(row["payer"]) if row.get("payer") else None
    acc.set_fee(row["code"], fee, row.get("effective") or None, description=row.get("description") or None,
                payer_id=payer_id, default_units=units)


def write_patients_csv(output: Path | None) -> int:
    """Every patient with the coverages in force, as ``import patients`` reads them; returns rows."""
    from .reports.render import neutralise_csv
    from .store.account_queries import export_patients

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    count = -1
    for row in export_patients():
        writer.writerow([neutralise_csv(str(cell)) if isinstance(cell, str) else cell for cell in row])
        count += 1
    if output is None:
        sys.stdout.write(buf.getvalue())
        return count
    output = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or ".")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count
