"""Benchmark 835 posting as a clerk runs it: a 5,000-claim remittance, dry run and post, beside a floor.

The books: a practice with 500 patients (every fifth with Medicare primary and Acme secondary),
5,000 two-line encounters over the last 30 days, each on a claim to its primary payer. The ERA
(claims/era_write.py): each payer pays its claims, 20% CO-45 and the rest split between payer and
patient (PR-2), about 2% of claims denied (CO-50), about 3% of lines without REF*6R (found by
code and date), Medicare's claims crossed over to Acme (CLP02 19, NM1*TT), and a PLB interest line.

Each figure is a whole process, in the same run:

* ``import era FILE --dry-run``: parse, balance, match, plan (the dry run posts and rolls back);
* ``import era FILE``: the real post, one transaction;
* floor: a fresh ``python -c`` process that writes the same rows (receipt, distributions,
  applications, adjustments, transfers, claim events) with raw ``executemany`` in one
  transaction, from a JSON of the rows the real post wrote (read back from its copy).

    python bench/era_bench.py [--claims 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import child_env, median

ROOT = Path(__file__).resolve().parent.parent
#: The issue's targets: parse + match + plan, and post, each in <= 5 s for 5,000 claims.
TARGET = 5.0
TABLES = ("receipt", "distribution", "application", "adjustment", "transfer", "claim_event", "receipt_adjustment")


def make_books(path: Path, claims: int, seed: int = 1) -> None:
    """The practice, its encounters and their claims (the claims through the claims store)."""
    from tui_billing.store import accounts as acc
    from tui_billing.store import claims as claim_store
    from tui_billing.store import close_database, database, open_database
    from tui_billing.store import operations as ops

    rng = random.Random(seed)
    open_database(path, create=True)
    acc.save_practice(acc.PracticeIn(
        name="Maple Family Practice", npi="1003000126", tax_id="12-3456789", street="100 Main Street",
        city="Springfield", state="IL", zip="62701-1234", phone="217-555-0100", taxonomy="207Q00000X",
        submitter_id="MAPLE01"))
    provider = acc.save_provider(acc.ProviderIn("SMI", "Smith", "Anna", "1234567893", "207Q00000X"))
    acme = acc.save_payer(acc.PayerIn("ACME", "Acme Health", "commercial", "ACM01", address="PO Box 1",
                                      city="Hartford", state="CT", zip="06101"))
    mcr = acc.save_payer(acc.PayerIn("MCR", "Medicare Part B", "medicare", "MCR01", address="1 Federal Way",
                                     city="Baltimore", state="MD", zip="21201"))
    for code, fee in (("99213", 10000), ("36415", 1000)):
        ops.set_procedure(code, f"Office service {code}", fee)
    ops.seed_standard_reasons()
    patients = []
    for i in range(500):
        coverages = [acc.CoverageDetails(acme, f"M{i:05d}", 1, effective="2020-01-01")]
        if i % 5 == 0:
            coverages = [acc.CoverageDetails(mcr, f"1EG4TE5MK{i:03d}", 1, effective="2020-01-01"),
                         acc.CoverageDetails(acme, f"M{i:05d}", 2, effective="2020-01-01")]
        patients.append((acc.register_patient(
            acc.PatientIn(f"Patient{i}", "Bench", "1970-01-01", "F", address="1 Oak Lane", city="Springfield",
                          state="IL", zip="62702"), coverages, account=f"B{i:05d}"), mcr if i % 5 == 0 else acme))
    today = dt.date.today()
    groups: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for _ in range(claims):
        patient, payer = patients[rng.randrange(len(patients))]
        dos = (today - dt.timedelta(days=1 + rng.randrange(30))).isoformat()
        enc = ops.post_encounter(patient_id=patient, provider_id=provider, dos=dos, diagnoses=["J06.9"],
                                 lines=[ops.ChargeLine("99213"), ops.ChargeLine("36415")])
        groups[(enc.encounter_id, payer)] = [(enc.charge_ids[0], 10000, dos), (enc.charge_ids[1], 1000, dos)]
    with database.atomic():
        claim_store._insert_claims(groups, user="bench", now=dt.datetime.now().isoformat(), day=today.isoformat())
    close_database()


def make_era(books: Path, out_dir: Path, seed: int = 1) -> list[Path]:
    """One 835 per payer for every claim of the books."""
    from tui_billing.claims.era_write import ClaimAnswer, LineAnswer, write_835
    from tui_billing.store import claims as claim_store
    from tui_billing.store import close_database, database, open_database

    rng = random.Random(seed)
    open_database(books)
    rows = [r[0] for r in database.execute_sql("SELECT id FROM claim ORDER BY id").fetchall()]
    loaded = claim_store.load_claims(rows)
    close_database()
    files = []
    for payer_id, name, edi in ((1, "Acme Health", "ACM01"), (2, "Medicare Part B", "MCR01")):
        answers = []
        for claim in (c for c in loaded if c.payer.edi_id == edi):
            denied = rng.random() < 0.02
            lines = []
            for line in claim.lines:
                contractual = line.charge // 5
                patient = 0 if denied else (line.charge - contractual) // 5
                adjustments = (("CO", "50", line.charge),) if denied else \
                    (("CO", "45", contractual), ("PR", "2", patient))
                lines.append(LineAnswer(line, 0 if denied else line.charge - contractual - patient, adjustments,
                                        no_control_number=rng.random() < 0.03))
            crossover = ("Acme Health", "ACM01") if edi == "MCR01" and not denied else None
            answers.append(ClaimAnswer(claim, tuple(lines), "4" if denied else "19" if crossover else "1",
                                       crossover=crossover))
        if not answers:
            continue
        text = write_835(answers, payer_name=name, payer_id=edi, payee_name="Maple Family Practice",
                         payee_npi="1003000126", trace=f"BENCH{payer_id}", paid_date=dt.date.today().isoformat(),
                         plb=[("L6", "INTEREST", -1234)], control=payer_id)
        path = out_dir / f"bench-{edi}.835"
        path.write_text(text)
        files.append(path)
    return files


def _copy(src: Path, dst: Path) -> None:
    dst.touch(mode=0o600)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _run(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui_billing", *args], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return took, done.stdout


FLOOR = """
import json, sqlite3, sys
rows = json.load(open(sys.argv[2]))
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA foreign_keys = ON"); con.execute("PRAGMA synchronous = FULL")
con.execute("BEGIN IMMEDIATE")
for table, (cols, values) in rows.items():
    con.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", values)
con.execute("COMMIT")
"""


def _posted_rows(posted: Path, before: Path) -> dict[str, tuple[list[str], list[list[object]]]]:
    """The rows the real post added, table by table (ids above what the copy had before)."""
    out = {}
    with sqlite3.connect(posted) as con, sqlite3.connect(before) as old:
        for table in TABLES:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            top = old.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
            out[table] = (cols, [list(r) for r in con.execute(f"SELECT * FROM {table} WHERE id > ? ORDER BY id",
                                                              (top,))])
    return out


def measure(claims: int, runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        books = work / "books.db"
        started = time.perf_counter()
        make_books(books, claims)
        built = time.perf_counter() - started
        files = make_era(books, work)
        main = max(files, key=lambda p: p.stat().st_size)
        dry, post, floor, auto = [], [], [], ""
        for run in range(runs):
            copy = work / f"run{run}.db"
            _copy(books, copy)
            took, _ = _run(["--db", str(copy), "import", "era", str(main), "--dry-run"])
            dry.append(took)
            took, out = _run(["--db", str(copy), "import", "era", str(main)])
            post.append(took)
            auto = out.strip().splitlines()[-1]
            rows = work / f"rows{run}.json"
            rows.write_text(json.dumps(_posted_rows(copy, books)))
            floor_db = work / f"floor{run}.db"
            _copy(books, floor_db)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", FLOOR, str(floor_db), str(rows)], check=True)
            floor.append(time.perf_counter() - started)
            for p in (copy, floor_db, rows):
                os.unlink(p)
        with sqlite3.connect(books) as con:
            n_claims = con.execute("SELECT COUNT(*) FROM claim WHERE payer_id = 1").fetchone()[0]
        return {"claims in the ERA": n_claims, "lines": 2 * n_claims, "books built (s)": round(built, 1),
                "dry run median (s)": round(median(dry), 2), "post median (s)": round(median(post), 2),
                "floor median (s)": round(median(floor), 2), "post / floor": round(median(post) / median(floor), 1),
                "target (s)": TARGET, "auto-posted": auto, "runs": runs, "dry runs": [round(x, 2) for x in dry],
                "posts": [round(x, 2) for x in post], "floors": [round(x, 2) for x in floor]}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=6250, help="claims in the books (4/5 of them Acme's)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.claims, args.runs), indent=2))


if __name__ == "__main__":
    main_()
