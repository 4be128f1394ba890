"""Benchmark 835 posting as a clerk runs it: a 5,000-claim remittance, dry run and post, beside a floor.

The books: a practice with 500 patients (every fifth with Medicare primary and Acme secondary),
5,000 two-line encounters over the last 30 days, each on a claim to its primary payer. The ERA
(claims/era_write.py): each payer pays its claims, 20% CO-45 and the rest split between payer and
patient (PR-2), about 2% of claims denied (CO-50), about 3% of lines without REF*6R (found by
code and date), Medicare's claims crossed over to Acme (CLP02 19, NM1*TT), and a PLB interest line.

Each figure is a whole process, in the same run:

* ``import era FILE --dry-run``: parse, balance, match, plan (the dry run posts and rolls back);
* ``import era FILE``: the real post, one transaction;
* floor: a fresh ``python -c`` process that writes the same rows (the file, receipt, remittance,
  distributions, applications, adjustments, transfers, claims forwarded, claim events, work items,
  audit events: every row the post added, ``TABLES``) with raw ``executemany`` in one transaction,
  from a JSON of the rows the real post wrote (read back from its copy).

    python bench/era_bench.py [--claims 6250] [--runs 3]

With ``--db BOOKS`` (the 1,000,000-charge demo, say) the books are a copy of BOOKS instead (SQLite's
online backup into a temporary directory; BOOKS is never written), and the ERA answers ``--claims``
(default 5,000) of the claims those books show as sent or accepted and still owed in full by one
payer (the payer with the most; ``store.era_demo.claims_awaiting_payment`` chooses, as for the demo's
own sample 835s), with the same mix of answers, crossed over where the patient has a next coverage:

    python bench/era_bench.py --db bench/data/demo-1m-claims.db [--claims 5000] [--runs 3]

Both modes also check every line the post touched against the line the file was written for
(applied and CO adjustments on that charge): a line posted to another line is counted, never hidden.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import child_env, median

ROOT = Path(__file__).resolve().parent.parent
#: The issue's targets: parse + match + plan, and post, each in <= 5 s for 5,000 claims.
TARGET = 5.0
#: Every table a post adds rows to, in an order their foreign keys accept (the floor writes them all).
TABLES = ("remittance_file", "receipt", "receipt_adjustment", "remittance", "adjustment_reason", "distribution",
          "adjustment", "application", "transfer", "claim", "claim_line", "claim_event", "remittance_claim",
          "era_work_item", "audit_event")
#: Tables the schema's own triggers keep (the floor's inserts fire them too, as the post's do).
DERIVED = ("claim_status", "receipt_balance", "charge_balance")


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


def answer(claim: Any, rng: random.Random, crossover: tuple[str, str] | None = None) -> Any:
    """What the payer does with one claim (the mix both modes answer with): 20% CO-45 and the rest
    split between payer and patient (PR-2), about 2% denied (CO-50), about 3% of lines without REF*6R;
    crossed over (CLP02 19, NM1*TT) when ``crossover`` names the next payer and it is not denied."""
    from tui_billing.claims.era_write import ClaimAnswer, LineAnswer

    denied = rng.random() < 0.02
    lines = []
    for line in claim.lines:
        contractual = line.charge // 5
        patient = 0 if denied else (line.charge - contractual) // 5
        adjustments = (("CO", "50", line.charge),) if denied else \
            (("CO", "45", contractual), ("PR", "2", patient))
        lines.append(LineAnswer(line, 0 if denied else line.charge - contractual - patient, adjustments,
                                no_control_number=rng.random() < 0.03))
    crossover = None if denied else crossover
    return ClaimAnswer(claim, tuple(lines), "4" if denied else "19" if crossover else "1", crossover=crossover)


def expected_lines(answers: Any) -> dict[int, tuple[int, int]]:
    """Charge -> (paid, CO adjusted) as the file says, for the lines a post may write (denials keep theirs)."""
    return {a.line.charge_id: (a.paid, sum(amt for g, _, amt in a.adjustments if g == "CO"))
            for c in answers if c.status != "4" for a in c.lines}


def era_file(answers: Any, path: Path, *, payer_name: str, payer_edi: str, payee: tuple[str, str], control: int) -> Path:
    """The 835 for ``answers`` (with a PLB interest line), by the project's own writer."""
    from tui_billing.claims.era_write import write_835

    text = write_835(answers, payer_name=payer_name, payer_id=payer_edi, payee_name=payee[0], payee_npi=payee[1],
                     trace=f"BENCH{control}", paid_date=dt.date.today().isoformat(),
                     plb=[("L6", "INTEREST", -1234)], control=control)
    path.write_text(text)
    return path


def make_era(books: Path, out_dir: Path, seed: int = 1) -> list[tuple[Path, dict[int, tuple[int, int]]]]:
    """One 835 per payer for every claim of the books, with what each line should post."""
    from tui_billing.store import claims as claim_store
    from tui_billing.store import close_database, database, open_database

    rng = random.Random(seed)
    open_database(books)
    rows = [r[0] for r in database.execute_sql("SELECT id FROM claim ORDER BY id").fetchall()]
    loaded = claim_store.load_claims(rows)
    close_database()
    files = []
    for payer_id, name, edi in ((1, "Acme Health", "ACM01"), (2, "Medicare Part B", "MCR01")):
        crossover = ("Acme Health", "ACM01") if edi == "MCR01" else None
        answers = [answer(claim, rng, crossover) for claim in loaded if claim.payer.edi_id == edi]
        if answers:
            files.append((era_file(answers, out_dir / f"bench-{edi}.835", payer_name=name, payer_edi=edi,
                                   payee=("Maple Family Practice", "1003000126"), control=payer_id),
                          expected_lines(answers)))
    return files


def make_demo_era(books: Path, out_dir: Path, claims: int, seed: int = 1) -> tuple[Path, dict[int, tuple[int, int]],
                                                                                   dict[str, object]]:
    """An 835 from the payer with the most claims awaiting payment in ``books``, for ``claims`` of them."""
    from tui_billing.store import close_database, database, open_database
    from tui_billing.store.era_demo import claims_awaiting_payment

    rng = random.Random(seed)
    open_database(books)  # (brings an older file to this schema, outside the timings)
    try:
        by_payer = claims_awaiting_payment(claims)
        if not by_payer:
            raise SystemExit(f"{books}: no claim is sent or accepted and still owed in full: nothing to answer")
        payer = max(by_payer, key=lambda p: (len(by_payer[p]), -p))
        chosen = by_payer[payer]
        name, edi = database.execute_sql("SELECT name, edi_payer_id FROM payer WHERE id = ?", (payer,)).fetchone()
        practice = database.execute_sql("SELECT name, npi FROM practice WHERE id = 1").fetchone()
        rows = [c.id for c, more in chosen if more]
        nxt: dict[int, tuple[str, str]] = {}
        for start in range(0, len(rows), 900):  # the patient's next coverage: whom the claim crosses over to
            part = rows[start:start + 900]
            for row, next_name, next_edi in database.execute_sql(
                    "SELECT k.id, y.name, y.edi_payer_id FROM claim k JOIN coverage c ON c.id = k.coverage_id "
                    "JOIN coverage n ON n.patient_id = k.patient_id AND n.priority > c.priority "
                    f"JOIN payer y ON y.id = n.payer_id WHERE k.id IN ({','.join('?' * len(part))}) "
                    "ORDER BY n.priority DESC", part).fetchall():
                nxt[row] = (next_name, next_edi)  # the nearest priority is read last
    finally:
        close_database()
    answers = [answer(claim, rng, nxt.get(claim.id)) for claim, _ in chosen]
    path = era_file(answers, out_dir / f"bench-{edi or payer}.835", payer_name=name, payer_edi=edi,
                    payee=(practice[0], practice[1]) if practice else ("Demo Practice", "1003000126"), control=1)
    about = {"payer": f"{name} ({edi})", "claims awaiting payment per payer (up to --claims)":
             {str(p): len(c) for p, c in sorted(by_payer.items())},
             "crossovers": sum(1 for a in answers if a.status == "19"),
             "denied": sum(1 for a in answers if a.status == "4"),
             "lines without REF*6R": sum(1 for a in answers for x in a.lines if x.no_control_number)}
    return path, expected_lines(answers), about


def _copy(src: Path, dst: Path) -> None:
    """SQLite's online backup of ``src`` (opened read-only: the books given are never written)."""
    dst.touch(mode=0o600)
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


#: CPU seconds (user + system) of each timed process, in order: on a shared machine whose load comes
#: and goes, what a process needed is the steadier figure beside its wall time.
CPU: list[float] = []


def _run(args: list[str]) -> tuple[float, str]:
    """Wall seconds and output of one whole process (``tui-billing ARGS``, or python ``-c`` with ``-c``)."""
    argv = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "tui_billing", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
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
    """The rows the real post added, table by table (ids above what the copy had before; reasons by
    code); refused if the post grew a table the floor would not write, so the floor is never smaller."""
    out = {}
    con, old = sqlite3.connect(posted), sqlite3.connect(before)
    try:
        for table in TABLES:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            if "id" in cols:
                top = old.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
                new = [list(r) for r in con.execute(f"SELECT * FROM {table} WHERE id > ? ORDER BY id", (top,))]
            else:
                known = {r[0] for r in old.execute(f"SELECT {cols[0]} FROM {table}")}
                new = [list(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid") if r[0] not in known]
            out[table] = (cols, new)
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            grew = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] - \
                old.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            if grew and table not in DERIVED and grew != len(out.get(table, ((), ()))[1]):
                raise SystemExit(f"the post added {grew} rows to {table}; the floor would write "
                                 f"{len(out.get(table, ((), ()))[1])}: add it to TABLES")
    finally:
        con.close()
        old.close()
    return out


def wrong_lines(posted: Path, before: Path, expected: dict[int, tuple[int, int]]) -> dict[str, int]:
    """Every charge the real post applied to or adjusted (CO), held against what the file said for it:
    ``wrong`` counts lines whose money differs from their own line's answer (or a charge the file
    never named); ``checked`` the lines compared; ``untouched`` the file's paid lines that got nothing."""
    got: dict[int, list[int]] = {}
    con, old = sqlite3.connect(posted), sqlite3.connect(before)
    try:
        for n, table in enumerate(("application", "adjustment")):
            top = old.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
            for charge, amount in con.execute(f"SELECT charge_id, SUM(amount) FROM {table} WHERE id > ? "
                                              "GROUP BY charge_id", (top,)):
                got.setdefault(charge, [0, 0])[n] = amount
    finally:
        con.close()
        old.close()
    wrong = sum(1 for charge, money in got.items() if tuple(money) != expected.get(charge))
    return {"checked": len(got), "wrong": wrong,
            "untouched": sum(1 for charge, (paid, _) in expected.items() if paid and charge not in got)}


def time_era(books: Path, era: Path, expected: dict[int, tuple[int, int]], work: Path, runs: int) -> dict[str, object]:
    """Dry run, post and floor, each a whole process, ``runs`` times on fresh copies of ``books``."""
    dry: list[float] = []
    post: list[float] = []
    floor: list[float] = []
    cpu: dict[str, list[float]] = {"dry run": [], "post": [], "floor": []}
    loads: list[float] = []
    auto, checks = "", {}
    for run in range(runs):
        copy = work / f"run{run}.db"
        _copy(books, copy)
        loads.append(os.getloadavg()[0])
        took, _ = _run(["--db", str(copy), "import", "era", str(era), "--dry-run"])
        dry.append(took)
        cpu["dry run"].append(CPU[-1])
        loads.append(os.getloadavg()[0])
        took, out = _run(["--db", str(copy), "import", "era", str(era)])
        post.append(took)
        cpu["post"].append(CPU[-1])
        loads.append(os.getloadavg()[0])
        auto = out.strip().splitlines()[-1]
        checks = wrong_lines(copy, books, expected)
        rows = work / f"rows{run}.json"
        rows.write_text(json.dumps(_posted_rows(copy, books)))
        os.unlink(copy)
        floor_db = work / f"floor{run}.db"
        _copy(books, floor_db)
        loads.append(os.getloadavg()[0])
        took, _ = _run(["-c", FLOOR, str(floor_db), str(rows)])
        floor.append(took)
        cpu["floor"].append(CPU[-1])
        loads.append(os.getloadavg()[0])
        for p in (floor_db, rows):
            os.unlink(p)
    return {"dry run median (s)": round(median(dry), 2), "post median (s)": round(median(post), 2),
            "floor median (s)": round(median(floor), 2), "post / floor": round(median(post) / median(floor), 1),
            "target (s)": TARGET, "CPU median (s)": {k: round(median(v), 2) for k, v in cpu.items()},
            "auto-posted": auto, "lines checked against the file": checks,
            "load average (1 min) while measured": [min(loads), max(loads)], "runs": runs,
            "dry runs": [round(x, 2) for x in dry], "posts": [round(x, 2) for x in post],
            "floors": [round(x, 2) for x in floor]}


def measure(claims: int, runs: int) -> dict[str, object]:
    """The synthetic books: built here, every claim answered, the biggest payer's file timed."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        books = work / "books.db"
        started = time.perf_counter()
        make_books(books, claims)
        built = time.perf_counter() - started
        era, expected = max(make_era(books, work), key=lambda f: f[0].stat().st_size)
        with sqlite3.connect(books) as con:
            n_claims = con.execute("SELECT COUNT(*) FROM claim WHERE payer_id = 1").fetchone()[0]
        return {"claims in the ERA": n_claims, "lines": 2 * n_claims, "books built (s)": round(built, 1),
                **time_era(books, era, expected, work, runs)}


def measure_db(db: Path, claims: int, runs: int) -> dict[str, object]:
    """Given books (a copy of them): ``claims`` of one payer's claims awaiting payment answered and timed."""
    with tempfile.TemporaryDirectory(prefix="era-bench-") as tmp:
        work = Path(tmp)
        books = work / "books.db"
        started = time.perf_counter()
        _copy(db, books)
        copied = time.perf_counter() - started
        era, expected, about = make_demo_era(books, work, claims)
        con = sqlite3.connect(books)
        charges = con.execute("SELECT COUNT(*) FROM charge").fetchone()[0]
        n_claims = con.execute("SELECT COUNT(*) FROM claim").fetchone()[0]
        con.close()
        in_era = era.read_text().count("~\nCLP*")
        return {"db": str(db), "charges in the books": charges, "claims in the books": n_claims,
                "claims in the ERA": in_era, "lines": era.read_text().count("~\nSVC*"), **about,
                "books copied (s)": round(copied, 1), **time_era(books, era, expected, work, runs)}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=None, help="answer claims of these books (a copy) instead")
    parser.add_argument("--claims", type=int, default=None,
                        help="claims in the synthetic books (default 6,250, 4/5 of them Acme's); with --db, "
                             "claims in the ERA (default 5,000)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.db is not None:
        if not args.db.exists():
            raise SystemExit(f"{args.db}: no such file")
        result = measure_db(args.db, args.claims or 5000, args.runs)
    else:
        result = measure(args.claims or 6250, args.runs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main_()
