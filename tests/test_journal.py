"""The journal export: every transaction balances, the day-close assertions hold, and the
per-payer / per-patient receivables end where the running balances say.

Checked with a small independent reader here; hledger and ledger are run too when installed.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections import defaultdict
from decimal import Decimal

import pytest
from click.testing import CliRunner

from tests.journal_tools import require
from tests.reports_fixtures import DAYS, OPEN_DAYS, TODAY, build
from tui_billing.cli import main

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "alice"}
_POSTING = re.compile(r"^    (\S.*?)\s{2,}\$(-?\d+\.\d\d)(?: = \$(-?\d+\.\d\d))?$")


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    path = tmp_path_factory.mktemp("journal") / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        build(path, mp)
    return path


def export(books, *args) -> str:
    result = CliRunner().invoke(main, ["--db", str(books), "export", "journal", *args], env=ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def parse(text: str) -> list[dict]:
    """Transactions as {date, desc, postings: [(account, cents, asserted_cents|None)]}."""
    txns: list[dict] = []
    directive = False
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        if line.startswith(("account ", "commodity ")):
            directive = True  # declarations (and their indented sub-directives) are not transactions
            continue
        if directive and line.startswith(" "):
            continue
        if not line.startswith(" "):
            directive = False
            date, _, desc = line.partition(" ")
            txns.append({"date": date, "desc": desc, "postings": []})
            continue
        m = _POSTING.match(line)
        assert m, f"unreadable posting: {line!r}"
        asserted = None if m.group(3) is None else int(Decimal(m.group(3)) * 100)
        txns[-1]["postings"].append((m.group(1), int(Decimal(m.group(2)) * 100), asserted))
    return txns


def check(text: str) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
    """Replay the journal: every real transaction balances; return final balances and the
    (date, A/R, unapplied) of each day-close assertion, as the real accounts had them."""
    balances: dict[str, int] = defaultdict(int)
    control: dict[str, int] = defaultdict(int)
    asserted = []
    for t in parse(text):
        real = [(a, c) for a, c, _ in t["postings"] if not a.startswith("(")]
        assert sum(c for _, c in real) == 0, t
        for a, c in real:
            balances[a] += c
        for a, c, want in t["postings"]:
            if a.startswith("("):
                control[a] += c
                if want is not None:
                    assert control[a] == want, (t, a)
        if any(w is not None for *_, w in t["postings"]):
            want = {a: w for a, _, w in t["postings"]}
            ar = sum(v for a, v in balances.items() if a.startswith("assets:receivables:"))
            unapplied = -sum(v for a, v in balances.items() if a.startswith("liabilities:unapplied:"))
            # the control mirror agrees with the real accounts, so the assertion speaks for them
            assert want["(control:receivables)"] == ar, t
            assert want["(control:unapplied)"] == -unapplied, t
            asserted.append((t["date"], ar, unapplied))
    return balances, asserted


def test_every_transaction_balances_and_assertions_match_day_sheets(books):
    balances, asserted = check(export(books))
    con = sqlite3.connect(books)
    closed = [d for d in DAYS if d not in OPEN_DAYS]
    assert [a[0] for a in asserted] == closed
    import json

    for date, ar, unapplied in asserted:
        totals = json.loads(con.execute("SELECT totals FROM day_close WHERE posting_date=?", (date,)).fetchone()[0])
        assert (ar, unapplied) == (totals["closing_ar"], totals["closing_unapplied"])


def test_receivables_per_payer_and_patient_end_at_running_balances(books):
    balances, _ = check(export(books))
    con = sqlite3.connect(books)
    want: dict[str, int] = defaultdict(int)
    for account, code, bal in con.execute(
            "SELECT p.account, py.code, cb.balance FROM charge_balance cb JOIN patient p ON p.id = cb.patient_id "
            "LEFT JOIN payer py ON py.id = cb.payer_id WHERE cb.balance <> 0"):
        want[f"assets:receivables:payers:{code}" if code else f"assets:receivables:patients:{account}"] += bal
    got = {a: v for a, v in balances.items() if a.startswith("assets:receivables:") and v}
    assert got == dict(want)
    deposits = {a.split(":")[-1]: v for a, v in balances.items() if a.startswith("assets:deposits:")}
    for method, amount in con.execute(
            "SELECT method, SUM(amount) FROM (SELECT method, amount FROM receipt UNION ALL "
            "SELECT method, -amount FROM refund) GROUP BY method"):
        assert deposits[method] == amount
    fees = -sum(v for a, v in balances.items() if a.startswith("income:fees:"))
    assert fees == con.execute("SELECT SUM(amount) FROM charge").fetchone()[0]


def test_export_from_a_date_opens_with_balances(books):
    text = export(books, "--from", DAYS[2])
    txns = parse(text)
    assert txns[0]["desc"].startswith("* Opening balances")
    assert all(t["date"] >= DAYS[1] for t in txns)
    _, asserted = check(text)
    assert [a[0] for a in asserted] == [d for d in DAYS[2:] if d not in OPEN_DAYS]
    # the same closing figures as the full export
    _, full = check(export(books))
    assert asserted == [a for a in full if a[0] >= DAYS[2]]


@pytest.fixture(scope="session")
def hledger() -> str:
    return require("hledger")


@pytest.fixture(scope="session")
def ledger() -> str:
    return require("ledger")


def test_hledger_reads_it_and_the_assertions_hold(books, tmp_path, hledger):
    journal = tmp_path / "books.journal"
    journal.write_text(export(books))
    run = subprocess.run([hledger, "-f", str(journal), "check", "assertions"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # a wrong figure is caught: the reader is really checking
    bad = re.sub(r"(\(control:receivables\)\s+\$0.00 = \$)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1),
                 journal.read_text(), count=1)
    journal.write_text(bad)
    run = subprocess.run([hledger, "-f", str(journal), "check", "assertions"], capture_output=True, text=True)
    assert run.returncode != 0


def test_ledger_reads_it(books, tmp_path, ledger):
    journal = tmp_path / "books.journal"
    journal.write_text(export(books))
    run = subprocess.run([ledger, "-f", str(journal), "bal", "--real"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_hledger_check_strict_is_clean(books, tmp_path, hledger):
    """Every account and the commodity are declared: hledger's strict checks pass as they are."""
    journal = tmp_path / "books.journal"
    journal.write_text(export(books))
    run = subprocess.run([hledger, "-f", str(journal), "check", "--strict"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # an account nobody declared is caught: the strict check is really on
    journal.write_text(journal.read_text() + "\n2026-03-20 * stray\n    assets:stray    $1.00\n"
                       "    equity:opening balances    $-1.00\n")
    run = subprocess.run([hledger, "-f", str(journal), "check", "--strict"], capture_output=True, text=True)
    assert run.returncode != 0 and "assets:stray" in run.stderr


def test_ledger_pedantic_reads_it_with_the_assertions(books, tmp_path, ledger):
    """ledger --pedantic (every account and commodity declared before use) reads it and checks the
    day-close balance assertions: a wrong figure makes it fail."""
    journal = tmp_path / "books.journal"
    text = export(books)
    journal.write_text(text)
    run = subprocess.run([ledger, "--pedantic", "-f", str(journal), "bal"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    bad = re.sub(r"(\(control:receivables\)\s+\$0.00 = \$)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1),
                 text, count=1)
    journal.write_text(bad)
    run = subprocess.run([ledger, "-f", str(journal), "bal"], capture_output=True, text=True)
    assert run.returncode != 0 and "assert" in run.stderr.lower()


@pytest.fixture(scope="module")
def lookalikes(tmp_path_factory):
    """Books whose patients' account numbers differ only in a space, an underscore and a slash."""
    path = tmp_path_factory.mktemp("lookalikes") / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUI_BILLING_TODAY", TODAY)
        mp.setenv("TUI_BILLING_OPERATOR", "alice")
        from tui_billing.store import close_database, open_database
        from tui_billing.store import operations as ops

        open_database(path, create=True)
        ops.seed_standard_reasons()
        dr = ops.add_provider("DR1", "Dana Reyes", "1234567893")
        ops.set_procedure("99213", "Office visit", 12500)
        for n, account in enumerate(["AUD 1", "AUD_1", "AUD/1"], start=1):
            pid = ops.add_patient(account, f"Lookalike{n}", "Pat", "1970-01-01", "F")
            ops.post_encounter(patient_id=pid, provider_id=dr, dos=TODAY, diagnoses=["J06.9"],
                               lines=[ops.ChargeLine("99213", fee=1000 * n)], payer_id=None)
        close_database()
    return path


def test_lookalike_accounts_stay_apart(lookalikes, tmp_path, hledger):
    balances, _ = check(export(lookalikes))
    patients = {a: c for a, c in balances.items() if a.startswith("assets:receivables:patients:")}
    assert sorted(patients.values()) == [1000, 2000, 3000], patients
    assert len(patients) == 3
    journal = tmp_path / "books.journal"
    journal.write_text(export(lookalikes))
    run = subprocess.run([hledger, "-f", str(journal), "check", "--strict"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([hledger, "-f", str(journal), "bal", "-N", "--flat", "assets:receivables:patients"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and len(run.stdout.strip().splitlines()) == 3, run.stdout


def test_account_segments_are_injective():
    from tui_billing.reports.journal import _acct

    names = ["AUD 1", "AUD_1", "AUD/1", "AUD:1", "AUD_201", "AUD;1", "aud 1", "", "_", "Müller", "M_c3_bcller",
             "A\u00a01", "A  1"]
    encoded = [_acct(n) for n in names]
    assert len(set(encoded)) == len(names), dict(zip(names, encoded, strict=False))
    for e in encoded:
        assert re.fullmatch(r"[A-Za-z0-9._\-]+", e), e  # nothing a journal reader treats specially
