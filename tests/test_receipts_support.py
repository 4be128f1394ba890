"""Shared set-up for the receipts tests: a small practice built with the store operations.

The books are built once per test session into a template file and copied for every test, so
each test posts into its own database without paying for the set-up (or the ICD-10 load) again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

from tui_billing.store import operations as ops
from tui_billing.store.db import close_database, open_database

# The business day these books are built on and every receipts test posts on. Pinned, never the
# wall clock, so the tests pass on any date and in any order (see fresh_books).
TODAY = dt.date(2026, 11, 16)


async def settle(pilot) -> None:
    """Let thread workers finish and their results land on the screen.

    A worker cancelled because a newer one replaced it (exclusive loads) is normal app behaviour,
    so it is waited past; a worker that failed still fails the test. A screen's live refresh
    (group ``*-live``) runs for as long as its screen exists: it is not waited for.
    """
    from textual.worker import WorkerCancelled

    for _ in range(2):
        outcomes = await asyncio.gather(*(w.wait() for w in pilot.app.workers
                                                   if not w.group.endswith("-live")), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, WorkerCancelled):
                raise outcome
        await pilot.pause()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def build_books(path: Path, *, payer_charges: int = 6) -> dict[str, int]:
    """Two payers, three patients, open charges for each; returns the ids tests refer to."""
    open_database(path, create=True)
    ops.seed_standard_reasons(operator="setup")
    ops.set_practice("Maple Street Clinic", address="1 Maple St, Springfield", phone="555-0100", operator="setup")
    prov = ops.add_provider("DRA", "Ann Able", "1234567893", operator="setup")
    acme = ops.add_payer("ACME", "Acme Health", "commercial", operator="setup")
    bcbs = ops.add_payer("BLUE", "Blue Plan", "commercial", operator="setup")
    ops.set_procedure("99213", "Office visit, est.", 10000, operator="setup")
    ops.set_procedure("99214", "Office visit, est. 25", 15000, operator="setup")
    ana = ops.add_patient("A100", "Alvarez", "Ana", "1980-01-02", "F",
                          coverages=[ops.CoverageIn(acme, "M1")], operator="setup")
    bob = ops.add_patient("B200", "Brown", "Bob", "1975-05-06", "M",
                          coverages=[ops.CoverageIn(acme, "M2")], operator="setup")
    cy = ops.add_patient("C300", "[Cy]", "Chan", "1990-03-04", "X", operator="setup")  # self-pay, markup-ish name
    charges: dict[str, int] = {}
    for i in range(payer_charges):
        pid = ana if i % 2 == 0 else bob
        enc = ops.post_encounter(patient_id=pid, provider_id=prov, dos=days_ago(30 + (payer_charges - i) // 3),
                                 diagnoses=["J06.9"],
                                 lines=[ops.ChargeLine("99213")], operator="setup")
        charges[f"acme{i}"] = enc.charge_ids[0]
    enc = ops.post_encounter(patient_id=cy, provider_id=prov, dos=days_ago(10), diagnoses=["J06.9"],
                             lines=[ops.ChargeLine("99213"), ops.ChargeLine("99214")], operator="setup")
    charges["cy0"], charges["cy1"] = enc.charge_ids
    close_database()
    return {"acme": acme, "blue": bcbs, "ana": ana, "bob": bob, "cy": cy, "provider": prov, **charges}


_TEMPLATE: dict[str, object] = {}


def fresh_books(tmp_path: Path, monkeypatch) -> tuple[Path, dict[str, int]]:
    """A private copy of the template books, opened as the current database.

    Pins the business day and the operator for the calling test only (``monkeypatch`` undoes it),
    including while the template is built.
    """
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY.isoformat())
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "clerk")
    if "path" not in _TEMPLATE:
        base = Path(tmp_path).parent / "receipts-template"  # this session's own base directory
        base.mkdir(exist_ok=True)
        tpl = base / "books.db"
        for p in base.glob("books.db*"):
            p.unlink()
        _TEMPLATE["ids"] = build_books(tpl)
        _TEMPLATE["path"] = tpl
    dest = Path(tmp_path) / "books.db"
    shutil.copyfile(_TEMPLATE["path"], dest)  # closed and checkpointed: the main file is whole
    dest.chmod(0o600)
    open_database(dest)
    return dest, dict(_TEMPLATE["ids"])  # type: ignore[arg-type]
