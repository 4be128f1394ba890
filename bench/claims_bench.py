"""Benchmark claims as a clerk runs them: scrub and build a day's claims, then the whole backlog.

Each figure is whole processes, as the clerk's script runs them: ``tui-billing claims scrub
--posted DAY`` then ``tui-billing claims build --output DIR`` (imports, opening the books, making
and scrubbing the claims, building the 837P files, writing them 0600, recording them). Beside each,
in the same run and just before it, the floor: a fresh ``python -c`` process that reads the same
rows (every unbilled charge of the day with its patient, subscriber, payer, provider and
diagnoses) with one raw SQL statement and writes them as text to a file in the same directory.

The day figure is taken for the last ``--days`` posting days (a different day each time, so each
measures the same work: the day's charges unbilled); the backlog figure is then every charge still
owed by a payer and on no claim (``claims scrub`` without ``--posted``), once.

    python bench/claims_bench.py --db bench/data/demo-1000000.db [--days 5]

The database is never written: it is copied to a temporary directory (SQLite's online backup)
and upgraded there, outside the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import child_env

ROOT = Path(__file__).resolve().parent.parent
#: The issue's target for a day's claims (about 3,500 encounters), scrub and build together.
DAY_TARGET = 2.0

#: What the claims are made of, read in one statement: the floor. ``{where}`` picks the day or nothing.
FLOOR_SQL = """
SELECT c.id, c.encounter_id, cb.payer_id, c.code, c.modifiers, c.units, c.amount, c.dos, c.pos, c.dx_pointers,
       p.account, p.last_name, p.first_name, p.dob, p.sex, p.address, p.city, p.state, p.zip,
       y.name, y.edi_payer_id, y.filing_code, y.receiver,
       v.member_id, v.group_no, v.relationship, v.subscriber_last, v.subscriber_first, v.subscriber_dob,
       pr.npi, pr.last_name, pr.first_name, pr.taxonomy,
       (SELECT group_concat(code) FROM encounter_diagnosis d WHERE d.encounter_id = c.encounter_id)
FROM charge_balance cb JOIN charge c ON c.id = cb.charge_id JOIN patient p ON p.id = c.patient_id
JOIN payer y ON y.id = cb.payer_id JOIN provider pr ON pr.id = c.provider_id
LEFT JOIN coverage v ON v.id = (SELECT id FROM coverage WHERE patient_id = c.patient_id AND payer_id = cb.payer_id
                                ORDER BY priority LIMIT 1)
WHERE cb.payer_id IS NOT NULL AND cb.balance > 0 {where}
AND NOT EXISTS (SELECT 1 FROM claim_line l JOIN claim k ON k.id = l.claim_id JOIN claim_status s ON s.claim_id = k.id
                WHERE l.charge_id = c.id AND k.payer_id = cb.payer_id AND s.status NOT IN ('voided', 'replaced'))
"""

FLOOR_SCRIPT = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
sql = sys.argv[2]
params = sys.argv[4:]
with open(sys.argv[3], "w") as out:
    n = 0
    for row in con.execute(sql, params):
        out.write("*".join("" if v is None else str(v) for v in row) + "~\\n")
        n += 1
print(n)
"""


def _copy(db: Path, workdir: Path) -> Path:
    copy = workdir / db.name
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    os.chmod(copy, 0o600)
    return copy


#: CPU seconds (user + system) of the processes run so far, per figure: on a shared machine whose
#: load comes and goes, the CPU a process needed is the steadier figure beside its wall time.
CPU: dict[str, float] = {}


def _run(args: list[str], env: dict[str, str], cpu_key: str = "") -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-600:]}")
    CPU[cpu_key] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, done.stdout


def _cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tui_billing", "--db", str(db), *args]


def run_bench(db: Path, days: int = 5, *, backlog: bool = True, today: str | None = None) -> dict:
    """Median seconds of a day's scrub + build and of the backlog's, each beside its floor."""
    with tempfile.TemporaryDirectory(prefix="claims-bench-") as tmp:
        work = Path(tmp)
        copy = _copy(db, work)
        env = child_env(**({"TUI_BILLING_TODAY": today} if today else {}))
        # the upgrade to this schema (and a first open) outside the timings
        _run(_cli(copy, "check", "--quick"), env)
        con = sqlite3.connect(copy)
        # the latest days whose charges wait for claims (on the demo: before today's, which are ready)
        latest = [r[0] for r in con.execute(
            "SELECT DISTINCT c.posting_date FROM charge_balance cb JOIN charge c ON c.id = cb.charge_id "
            "WHERE cb.payer_id IS NOT NULL AND cb.balance > 0 AND NOT EXISTS (SELECT 1 FROM claim_line l "
            "WHERE l.charge_id = c.id) ORDER BY 1 DESC LIMIT ?", (days + 2,))]
        con.close()
        latest, pair = latest[:days], latest[days:]
        result: dict = {"db": str(db), "days": [], "target_day_s": DAY_TARGET}
        for day in latest:
            out = work / f"day-{day}"
            out.mkdir()
            floor_s, rows = _run([sys.executable, "-c", FLOOR_SCRIPT, str(copy),
                                  FLOOR_SQL.format(where="AND c.posting_date = ?"), str(out / "floor.txt"), day], env)
            floor_cpu = CPU[""]
            scrub_s, scrub_out = _run(_cli(copy, "claims", "scrub", "--posted", day), env)
            scrub_cpu = CPU[""]
            build_s, build_out = _run(_cli(copy, "claims", "build", "--output", str(out)), env)
            result["days"].append({
                "day": day, "rows": int(rows), "floor_s": round(floor_s, 3), "scrub_s": round(scrub_s, 3),
                "build_s": round(build_s, 3), "claims_s": round(scrub_s + build_s, 3),
                "floor_cpu_s": round(floor_cpu, 3), "claims_cpu_s": round(scrub_cpu + CPU[""], 3),
                "scrub": scrub_out.strip().splitlines()[-1], "files": build_out.count("\nfile ") + build_out.startswith(
                    "file ")})
            print(json.dumps(result["days"][-1]), file=sys.stderr)
        if result["days"]:
            claims = [d["claims_s"] for d in result["days"]]
            floors = [d["floor_s"] for d in result["days"]]
            result["day_median_s"] = statistics.median(claims)
            result["day_floor_median_s"] = statistics.median(floors)
            result["day_ratio"] = round(result["day_median_s"] / result["day_floor_median_s"], 2)
            result["day_rows_median"] = statistics.median(d["rows"] for d in result["days"])
            result["day_cpu_median_s"] = statistics.median(d["claims_cpu_s"] for d in result["days"])
            result["day_floor_cpu_median_s"] = statistics.median(d["floor_cpu_s"] for d in result["days"])
            result["load_average"] = os.getloadavg()
            encounters = sqlite3.connect(copy).execute(
                f"SELECT COUNT(DISTINCT encounter_id) FROM charge WHERE posting_date IN "
                f"({','.join('?' * len(latest))})", latest).fetchone()[0]
            result["day_encounters_mean"] = round(encounters / len(latest))
        if len(pair) == 2:
            # the "about 3,500 encounters" a day: two of the demo's days (~2,000 claims each) at once
            out = work / "two-days"
            out.mkdir()
            floor_s, rows = _run([sys.executable, "-c", FLOOR_SCRIPT, str(copy),
                                  FLOOR_SQL.format(where="AND c.posting_date IN (?, ?)"), str(out / "floor.txt"),
                                  *pair], env)
            floor_cpu = CPU[""]
            scrub_s, scrub_out = _run(_cli(copy, "claims", "scrub", "--posted", pair[0], "--posted", pair[1]), env)
            scrub_cpu = CPU[""]
            build_s, _ = _run(_cli(copy, "claims", "build", "--output", str(out)), env)
            result["two_days"] = {"days": pair, "rows": int(rows), "floor_s": round(floor_s, 3),
                                  "floor_cpu_s": round(floor_cpu, 3), "claims_cpu_s": round(scrub_cpu + CPU[""], 3),
                                  "scrub_s": round(scrub_s, 3), "build_s": round(build_s, 3),
                                  "claims_s": round(scrub_s + build_s, 3), "scrub": scrub_out.strip().splitlines()[-1]}
            print(json.dumps(result["two_days"]), file=sys.stderr)
        if backlog:
            out = work / "backlog"
            out.mkdir()
            floor_s, rows = _run([sys.executable, "-c", FLOOR_SCRIPT, str(copy), FLOOR_SQL.format(where=""),
                                  str(out / "floor.txt")], env)
            floor_cpu = CPU[""]
            scrub_s, scrub_out = _run(_cli(copy, "claims", "scrub"), env)
            scrub_cpu = CPU[""]
            build_s, _ = _run(_cli(copy, "claims", "build", "--output", str(out)), env)
            result["backlog"] = {"rows": int(rows), "floor_s": round(floor_s, 3), "scrub_s": round(scrub_s, 3),
                                 "floor_cpu_s": round(floor_cpu, 3), "claims_cpu_s": round(scrub_cpu + CPU[""], 3),
                                 "build_s": round(build_s, 3), "claims_s": round(scrub_s + build_s, 3),
                                 "ratio": round((scrub_s + build_s) / floor_s, 2),
                                 "scrub": scrub_out.strip().splitlines()[-1]}
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--no-backlog", action="store_true")
    parser.add_argument("--today", default=None, help="TUI_BILLING_TODAY for a test book (the demo's)")
    args = parser.parse_args(argv)
    result = run_bench(args.db, args.days, backlog=not args.no_backlog, today=args.today)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
