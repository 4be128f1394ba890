"""The same figures on both backends in one run, each beside its own floor.

    python bench/pg_bench.py --charges 20000 [--repeats 3] [--writes 50] [--bulk-settings]
    python bench/pg_bench.py --reuse DEMO.db postgresql://... [--repeats 5]   (reports only)

Starts a throwaway PostgreSQL cluster (tests/pg_server.py: initdb as an unprivileged user, a unix
socket in a temporary directory; needs the server binaries and root or a user that may run them)
and measures:

* the demo build: SQLite's (``demo --db FILE``) and PostgreSQL's (``demo --db postgresql://``:
  the same bulk load into a file, its history sent to the server by COPY as it is written, in one
  transaction), with the server's finish after the build alone;
* the reports as whole processes (daysheet, aging today and as of last month, month) on each
  backend beside a floor on the same backend: a fresh ``python -c`` that runs the same aggregate
  as one raw statement with that backend's plain driver (sqlite3 / psycopg) and fetches every row;
* posting throughput: 8 processes recording receipts at once through ``operations.record_receipt``
  on each backend, beside 1 process doing the same number alone.

Prints a table and the JSON; nothing is written to the project.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.common import child_env  # noqa: E402
from bench.reports_bench import DAYSHEET_FLOOR, DAYSHEET_SUMS, MONTH_PERIOD_SUMS, _dates  # noqa: E402

WRITER = """
import json, sys, time
from tui_billing.store import open_database
from tui_billing.store import operations as ops
db, worker, count, patient, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
open_database(db, create=False)
time.sleep(max(0.0, start_at - time.time()))  # every writer starts together, after its imports
started = time.time()
for k in range(count):
    ops.record_receipt(amount=100 + k, method="check", patient_id=patient, reference=f"bench{worker}-{k}")
print(json.dumps([started, time.time()]))
"""

SQLITE_FLOOR = ("import sqlite3, sys, json\ncon = sqlite3.connect(sys.argv[1])\n"
                "print(len(con.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall()))\n")
#: PostgreSQL will not UNION an integer column with a text one (SQLite's floors do): each top-level
#: UNION ALL branch of a floor runs as its own statement, on one connection, in one snapshot
PG_FLOOR = ("import psycopg, sys, json\ncon = psycopg.connect(sys.argv[1])\n"
            "con.execute('BEGIN ISOLATION LEVEL REPEATABLE READ')\nparams = json.loads(sys.argv[3])\n"
            "print(sum(len(con.execute(part if i == 0 else 'SELECT' + part, params).fetchall())\n"
            "          for i, part in enumerate(sys.argv[2].split('\\nUNION ALL SELECT'))))\n")


def _run(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:6])} failed: {done.stderr.decode(errors='replace')[-600:]}")
    return time.perf_counter() - started


def _floors(db: str, dates: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """Each report's raw statement for this backend (PostgreSQL's through the store's translator)."""
    import inspect

    from tui_billing.reports.queries import aging_sql, month_bounds, month_movement
    from tui_billing.store import open_database, pg_dialect
    from tui_billing.store.db import close_database, on_server

    open_database(db, create=False)
    try:
        server = on_server()
        start, end = month_bounds(dates["month"])
        month_src = inspect.getsource(month_movement)
        cases = {
            "daysheet": (DAYSHEET_FLOOR + DAYSHEET_SUMS, {"d": dates["today"]}),
            "aging": aging_sql(dates["today"], "payer", "service"),
            "aging_past": aging_sql(dates["past"], "payer", "service"),
            "month": (month_src.split('"""', 3)[3].split('"""')[0] + MONTH_PERIOD_SUMS, {"s": start, "e": end}),
        }
    finally:
        close_database()
    if server:
        cases = {k: (pg_dialect.translate(sql).sql, params) for k, (sql, params) in cases.items()}
    return cases


def reports(db: str, dates: dict[str, str], repeats: int) -> dict:
    env = child_env(TUI_BILLING_TODAY=dates["today"])
    floors = _floors(db, dates)
    floor_code = PG_FLOOR if db.startswith("postgresql://") else SQLITE_FLOOR
    base = [sys.executable, "-m", "tui_billing", "--db", db, "report"]
    commands = {"daysheet": ["daysheet", "--date", dates["today"]], "aging": ["aging", "--as-of", dates["today"]],
                "aging_past": ["aging", "--as-of", dates["past"]], "month": ["month", "--month", dates["month"]]}
    out = {}
    for name, args in commands.items():
        cmd = base + args + ["-o", os.devnull]
        floor = [sys.executable, "-c", floor_code, db, floors[name][0], json.dumps(floors[name][1])]
        _run(cmd, env), _run(floor, env)  # warm
        times: dict[str, list[float]] = {"report": [], "floor": []}
        for _ in range(repeats):  # interleaved: load falls on both alike
            times["report"].append(_run(cmd, env))
            times["floor"].append(_run(floor, env))
        report, low = statistics.median(times["report"]), statistics.median(times["floor"])
        out[name] = {"median_s": round(report, 3), "floor_s": round(low, 3), "ratio": round(report / low, 2)}
    return out


def writers(db: str, processes: int, each: int, patient: int, today: str) -> float:
    """Receipts per second, from the common start to the last finish of the posting loops (imports excluded)."""
    env = child_env(TUI_BILLING_TODAY=today, TUI_BILLING_OPERATOR="bench")
    start_at = time.time() + 5 + processes  # long enough for every process to import and open the books
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db, str(w), str(each), str(patient), str(start_at)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(processes)]
    spans = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(err[-600:])
        spans.append(json.loads(out))
    return processes * each / (max(e for _, e in spans) - min(s for s, _ in spans))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charges", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writes", type=int, default=50, help="receipts per writer process")
    parser.add_argument("--bulk-settings", action="store_true",
                        help="run the server as PostgreSQL's manual advises for loading a database (wal_level=minimal, "
                             "max_wal_senders=0, max_wal_size=8GB): no WAL for the demo's COPY into its emptied tables")
    parser.add_argument("--reuse", nargs=2, metavar=("FILE", "URL"),
                        help="report figures only, on these books already built (a demo file and the same demo on a server)")
    args = parser.parse_args()
    if args.reuse:
        path, url = args.reuse
        dates = _dates(Path(path))
        result = {f"reports_{name}": reports(db, dates, args.repeats) for name, db in (("sqlite", path), ("postgresql", url))}
        print(json.dumps(result, indent=2))
        _print_reports(result)
        return
    from tui_billing.store import identity

    import pg_server

    identity.make_new_books_test_books(False)
    work = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    os.chmod(work, 0o755)
    cluster = pg_server.Cluster(BULK_SETTINGS if args.bulk_settings else "")
    result: dict = {"charges": args.charges, "bulk_settings": args.bulk_settings}
    try:
        cluster.start()
        cluster.make_template()
        url = cluster.new_database()
        path = str(work / "demo.db")
        env = child_env()
        demo = ["demo", "--charges", str(args.charges)]
        result["demo_sqlite_s"] = round(_run([sys.executable, "-m", "tui_billing", "--db", path, *demo], env), 1)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tui_billing", "--db", url, *demo], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        result["demo_postgresql_s"] = round(time.perf_counter() - started, 1)
        result["demo_postgresql_move_s"] = int(done.stdout.rsplit("of which finishing on the server ", 1)[1].split()[0])
        dates = _dates(Path(path))
        for name, db in (("sqlite", path), ("postgresql", url)):
            result[f"reports_{name}"] = reports(db, dates, args.repeats)
        # posting: fresh small books on each backend (the demo's are closed up to today)
        for name in ("sqlite", "postgresql"):
            for count in (1, 8):
                db = str(work / f"post-{count}.db") if name == "sqlite" else cluster.new_database()
                subprocess.run([sys.executable, "-c", SEED, db], cwd=ROOT, env=child_env(TUI_BILLING_TODAY=dates["today"]),
                               check=True, capture_output=True)
                total = 8 * args.writes
                rate = writers(db, count, total // count, 1, dates["today"])
                result[f"post_{name}_{count}_per_s"] = round(rate, 1)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    print(f"\ndemo of {args.charges} charges: SQLite {result['demo_sqlite_s']} s, PostgreSQL "
          f"{result['demo_postgresql_s']} s (the server's finish after the build {result['demo_postgresql_move_s']} s)")
    _print_reports(result)
    for name in ("sqlite", "postgresql"):
        print(f"posting on {name}: 8 writers {result[f'post_{name}_8_per_s']}/s beside 1 writer "
              f"{result[f'post_{name}_1_per_s']}/s (receipts per second, same total)")


#: "Populating a Database" in PostgreSQL's manual: a server being loaded need not keep WAL for replicas
BULK_SETTINGS = "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=8GB"


def _print_reports(result: dict) -> None:
    print(f"{'report':<12} {'backend':<11} {'median s':>9} {'floor s':>8} {'ratio':>6}")
    for name in ("sqlite", "postgresql"):
        for report, r in result[f"reports_{name}"].items():
            print(f"{report:<12} {name:<11} {r['median_s']:>9.3f} {r['floor_s']:>8.3f} {r['ratio']:>6}")


SEED = """
import sys
from tui_billing.store import open_database, roles, operations as ops
open_database(sys.argv[1])
roles.bootstrap()  # as `init` does: the user who makes the books is their admin
ops.seed_standard_reasons()
ops.add_patient("B001", "Bench", "Pat", "1980-01-01", "F")
"""


if __name__ == "__main__":
    main()
