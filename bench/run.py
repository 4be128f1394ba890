"""One entry point for every performance figure, each beside its floor measured in the same run.

    python bench/run.py --charges 1000000     # the big demo database (reused if present)
    python bench/run.py --quick               # CI-sized, about a minute, builds its own 20,000-charge demo

Prints one table and writes ``bench/results/run-<time>.json`` (and ``latest.json``).

Measured here: demo build time (vs SQLite writing the same file: VACUUM INTO), ``--help`` as a whole
process (vs ``python -c pass``), save-encounter commit p50/p95 through
``operations.post_encounter`` (vs the same rows inserted by raw SQL in one transaction), peak
memory of the TUI on the database once it is ready (vs a bare Textual app), concurrent posting
throughput (8 processes vs 1), and the crash loop. The screen and report owners' modules
(``bench/tui_keys.py``, ``receipts_bench.py``, ``balancing_bench.py``, ``reports_bench.py``) are run
in their own processes through their ``run(db, ...)`` function; a module that is absent prints
"not built yet" for its rows, never a made-up figure. Keys named ``floor_X`` are X's floor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, PtyProcess, child_env, median, percentile, time_process

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"

#: (module, area, what it measures) for the owners' bench modules, in table order.
EXTERNAL = [
    ("tui_keys", "charges", "TUI ready, keystroke echo, patient lookup (charge entry)"),
    ("receipts_bench", "receipts", "receipts queue and distribution"),
    ("balancing_bench", "balancing", "balancing dashboard"),
    ("reports_bench", "reports", "reports as whole processes vs raw SQL"),
]


class Table:
    """Rows of (group, figure, value, floor, floor name); JSON keeps everything, the table the figures."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, group: str, figure: str, value: float | None, unit: str, floor: float | None = None,
            floor_name: str = "", note: str = "", lower_is_better: bool = True) -> None:
        ratio = value / floor if value is not None and floor else None
        if not lower_is_better and not note:
            note = "higher is better"
        self.rows.append({"group": group, "figure": figure, "value": value, "unit": unit, "floor": floor,
                          "floor_name": floor_name, "ratio": ratio, "note": note})

    def missing(self, group: str, why: str) -> None:
        self.rows.append({"group": group, "figure": why, "value": None, "unit": "", "floor": None,
                          "floor_name": "", "ratio": None, "note": ""})

    def render(self) -> str:
        from tabulate import tabulate

        body = []
        for r in self.rows:
            body.append([r["group"], r["figure"], _fmt(r["value"], r["unit"]),
                         (_fmt(r["floor"], r["unit"]) + (f" ({r['floor_name']})" if r["floor_name"] else ""))
                         if r["floor"] is not None else "",
                         f"{r['ratio']:.2f}x" if r["ratio"] is not None else "", r["note"]])
        return tabulate(body, headers=["area", "figure", "median", "floor (same run)", "ratio", "note"],
                        tablefmt="github", disable_numparse=True)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "/s":
        return f"{value:,.0f} /s"
    return f"{value:,.2f} {unit}".strip()


# --------------------------------------------------------------------------- the database


def demo_available() -> bool:
    """True once ``tui_billing/demo.py`` (the demo generator) is in this tree."""
    try:
        return "def build_demo" in (ROOT / "tui_billing" / "demo.py").read_text()
    except OSError:
        return False


def build_demo(path: Path, charges: int) -> float:
    """Build a demo database with the real command; returns wall seconds."""
    start = time.perf_counter()
    subprocess.run([PY, "-m", "tui_billing", "--db", str(path), "demo", "--charges", str(charges), "--force"],
                   check=True, env=child_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def build_with_operations(path: Path, encounters: int) -> None:
    """Until demo.py lands: a small practice posted through the store operations."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bench.concurrency import seed_practice, post_cycle; "
            "s = seed_practice(sys.argv[2], 8); [post_cycle(s, n % 8, n, lambda *a: None) for n in range(int(sys.argv[3]))]")
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    subprocess.run([PY, "-c", code, str(ROOT), str(path), str(encounters)], check=True, env=child_env(), cwd=ROOT)


def measure_demo_build(path: Path, charges: int, table: Table, report: dict) -> None:
    """Time ``tui-billing demo`` building ``path``; the floor is SQLite writing the same file (VACUUM INTO)."""
    seconds = build_demo(path, charges)
    floor = vacuum_into_floor(path)
    table.add("demo", f"demo build ({charges:,} charges)", seconds, "s", floor,
              "same file by VACUUM INTO")
    report["figures"].update(demo_build_s=seconds, floor_demo_build_s=floor)


def vacuum_into_floor(built: Path) -> float:
    """Seconds for a fresh process to write the built database's rows and indexes to a new file."""
    dest = built.with_name(built.name + ".floor")
    dest.unlink(missing_ok=True)
    code = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('VACUUM INTO ?', (sys.argv[2],))"
    start = time.perf_counter()
    subprocess.run([PY, "-c", code, str(built), str(dest)], check=True, env=child_env(), cwd=ROOT)
    seconds = time.perf_counter() - start
    dest.unlink(missing_ok=True)
    return seconds


def prepare_db(args: argparse.Namespace, table: Table, report: dict, skip: set[str]) -> Path:
    """The database every figure is measured on: the big one if asked and ready, else built here.

    The demo build is timed on every run (unless skipped); with the big database reused, the
    timed build goes to a scratch file that is removed afterwards.
    """
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo-{args.charges}.db"
    # A big demo takes a minute to build: a finished one is reused (a scratch build is still timed).
    reuse = not args.db and not args.rebuild and path.exists() and demo_available()
    if not demo_available():
        table.missing("demo", "demo build: not built yet (tui_billing/demo.py has not landed)")
    elif "demo" not in skip and (reuse or args.db):
        scratch = DATA / "demo-build.db"
        try:
            measure_demo_build(scratch, args.charges, table, report)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(scratch) + suffix).unlink(missing_ok=True)
    if args.db:
        report["db"] = args.db
        return Path(args.db)
    if reuse:
        report["db"] = str(path)
        # The file's name only: a table pasted into the README must not name this machine's paths.
        table.add("demo", f"measured on the {args.charges:,}-charge demo (reused, read-only)", None, "", note=path.name)
        return path
    if demo_available():
        measure_demo_build(path, args.charges, table, report)
    else:
        path = DATA / f"ops-{args.charges}.db"
        if not path.exists() or args.rebuild:
            build_with_operations(path, 200)  # a small stand-in: posting through the operations is slow by design
    report["db"] = str(path)
    return path


def working_copy(db: Path) -> Path:
    """A writable copy (the big database is read-only for us)."""
    dest = DATA / "working-copy.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    code = ("import sqlite3, sys; s = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); "
            "d = sqlite3.connect(sys.argv[2]); s.backup(d); d.close(); s.close()")
    subprocess.run([PY, "-c", code, str(db), str(dest)], check=True, env=child_env(), cwd=ROOT)
    dest.chmod(0o600)
    return dest


# --------------------------------------------------------------------------- own figures


def measure_help(table: Table, report: dict, runs: int) -> None:
    helped = time_process([PY, "-m", "tui_billing", "--help"], runs)
    floor = time_process([PY, "-c", "pass"], runs)
    table.add("startup", "tui-billing --help (whole process)", median(helped) * 1000, "ms",
              median(floor) * 1000, "python -c pass")
    report["figures"].update(help_ms=median(helped) * 1000, floor_help_ms=median(floor) * 1000)


SAVE_CODE = r"""
import json, sqlite3, sys, time
sys.path.insert(0, sys.argv[1])
from tui_billing import codes
from tui_billing.store import database, open_database, operations as ops
path, n = sys.argv[2], int(sys.argv[3])
open_database(path, create=False)
codes.validate_icd10("J06.9")
q = lambda sql: database.execute_sql(sql).fetchone()
patient = q("SELECT id FROM patient ORDER BY id DESC LIMIT 1")[0]
provider = q("SELECT id FROM provider WHERE active ORDER BY id LIMIT 1")[0]
code = q("SELECT code FROM procedure ORDER BY code LIMIT 1")[0]
store, raw = [], []
date = ops.v.current_posting_date()
con = sqlite3.connect(path, isolation_level=None)
con.execute("PRAGMA synchronous=FULL"); con.execute("PRAGMA foreign_keys=ON"); con.execute("PRAGMA busy_timeout=5000")
for i in range(n):  # interleaved, so both see the same WAL size and disk weather
    t = time.perf_counter()
    ops.post_encounter(patient_id=patient, provider_id=provider, dos=ops.v.today(), diagnoses=["J06.9"],
                       lines=[ops.ChargeLine(code), ops.ChargeLine(code)], operator="bench")
    store.append((time.perf_counter() - t) * 1000)
    # the floor: the same rows (encounter, diagnosis, 2 charges, audit event) by hand
    t = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    e = con.execute("INSERT INTO encounter (patient_id, provider_id, payer_id, dos, pos, posting_date, operator, created_at)"
                    " VALUES (?,?,NULL,?,'11',?,'floor','2026-01-01T00:00:00')", (patient, provider, date, date)).lastrowid
    con.execute("INSERT INTO encounter_diagnosis VALUES (?,1,'J069')", (e,))
    for line in (1, 2):
        con.execute("INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, units, fee,"
                    " amount, posting_date, operator) VALUES (?,?,?,?,NULL,?,'11',?,1,100,100,?,'floor')",
                    (e, line, patient, provider, date, code, date))
    con.execute("INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash)"
                " VALUES ('x','floor','floor','encounter',?,'{}','0','0')", (e,))
    con.execute("COMMIT")
    raw.append((time.perf_counter() - t) * 1000)
print("@@" + json.dumps({"store": store, "raw": raw}))
"""


def measure_save(db: Path, table: Table, report: dict, n: int) -> None:
    proc = subprocess.run([PY, "-c", SAVE_CODE, str(ROOT), str(db), str(n)], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, timeout=900)
    if proc.returncode:
        table.missing("save", f"save-encounter: failed ({proc.stderr.strip().splitlines()[-1][:80]})")
        return
    data = json.loads(proc.stdout.rsplit("@@", 1)[1])
    for label, pct in (("p50", 50), ("p95", 95)):
        value, floor = percentile(data["store"], pct), percentile(data["raw"], pct)
        table.add("save", f"save encounter, 2 lines: commit {label}", value, "ms", floor,
                  "same rows by raw SQL, one transaction")
        report["figures"][f"save_{label}_ms"] = value
        report["figures"][f"floor_save_{label}_ms"] = floor


BARE_APP = r"""
from textual.app import App
from textual.widgets import Footer, Header, Input, Static
class Bare(App):
    def compose(self):
        yield Header()
        yield Static("ready-marker")
        yield Input(placeholder="account")
        yield Footer()
Bare().run()
"""


def _settled_peak_kb(argv: list[str], quiet: float = 0.3, settle: float = 1.0, timeout: float = 120) -> tuple[float, int]:
    """Spawn in an 80x24 pty; ready = the first paint followed by ``quiet`` s of silence.

    (A blinking cursor keeps writing every half second, so "silent forever" never comes.) After
    ready, keep reading for ``settle`` s so late loads count, then read VmHWM.
    """
    with PtyProcess(argv, env=child_env(TERM="xterm-256color", COLORTERM="")) as term:
        start = time.perf_counter()
        while not term.output:
            if time.perf_counter() - start > timeout or not term.alive():
                raise RuntimeError(f"{argv[-1]} never painted")
            term.read_some(0.5)
        while term.read_some(quiet):
            if time.perf_counter() - start > timeout:
                break
        ready = time.perf_counter() - start - quiet
        until = time.perf_counter() + settle
        while time.perf_counter() < until:
            term.read_some(until - time.perf_counter())
        return ready, term.peak_memory_kb()


def measure_memory(db: Path, table: Table, report: dict, runs: int) -> None:
    tui, bare = [], []
    for _ in range(runs):
        tui.append(_settled_peak_kb([PY, "-m", "tui_billing", "--db", str(db)]))
        bare.append(_settled_peak_kb([PY, "-c", BARE_APP]))
    value, floor = median([m for _, m in tui]) / 1024, median([m for _, m in bare]) / 1024
    settled, settled_floor = median([r for r, _ in tui]) * 1000, median([r for r, _ in bare]) * 1000
    table.add("startup", "TUI start to first paint gone quiet (pty 80x24)", settled, "ms", settled_floor,
              "bare Textual app")
    table.add("memory", "TUI peak RSS once ready (VmHWM)", value, "MB", floor, "bare Textual app")
    report["figures"].update(tui_peak_mb=value, floor_tui_peak_mb=floor,
                             tui_settled_s=median([r for r, _ in tui]), floor_tui_settled_s=median([r for r, _ in bare]))


def measure_concurrency(table: Table, report: dict, quick: bool) -> None:
    from bench import concurrency

    figures = concurrency.run(str(DATA / "concurrency.db"), procs=8, cycles=150, quick=quick)
    table.add("concurrency", f"8 processes posting ({figures['concurrent_calls']} calls, 0 lost/doubled)",
              figures["concurrent_calls_per_s"], "/s", figures["single_calls_per_s"], "1 process", lower_is_better=False)
    report["figures"].update(concurrent_calls_per_s=figures["concurrent_calls_per_s"],
                             floor_concurrent_calls_per_s=figures["single_calls_per_s"])
    report["concurrency"] = figures


def measure_crash(table: Table, report: dict, kills: int) -> None:
    from bench import crash

    figures = crash.run(str(DATA / "crash.db"), kills=kills, check_every=1 if kills <= 60 else 5)
    table.add("crash", f"SIGKILL loop: {figures['kills']} kills ({figures['in_flight_found_committed']} mid-commit), "
              f"{figures['acknowledged_entries']} acked entries, "
              "all present, check ok", figures["seconds"], "s")
    report["crash"] = figures


# --------------------------------------------------------------------------- owners' modules


EXTERNAL_CODE = r"""
import inspect, json, sys
sys.path.insert(0, sys.argv[1])
import importlib
mod = importlib.import_module("bench." + sys.argv[2])
fn = next(getattr(mod, name) for name in ("run", "run_bench", "measure") if callable(getattr(mod, name, None)))
kwargs = json.loads(sys.argv[4])
params = inspect.signature(fn).parameters
kwargs = {k: v for k, v in kwargs.items() if k in params}
print("@@" + json.dumps(fn(sys.argv[3], **kwargs), default=str))
"""

#: unit token in a figure's key -> (scale to the shown unit, shown unit)
UNIT_TOKENS = {"ms": (1, "ms"), "s": (1, "s"), "seconds": (1, "s"), "kb": (1 / 1024, "MB"),
               "kib": (1 / 1024, "MB"), "mb": (1, "MB"), "per_s": (1, "/s")}


def _unit_of(key: str) -> tuple[str, float, str] | None:
    """("label without the unit", scale, unit) for keys like ``f4_warm_ms``, ``scroll_echo_ms_p95``, ``x_per_s``."""
    tokens = key.split("_")
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        if token == "s" and i > 0 and tokens[i - 1] == "per":
            scale, unit = UNIT_TOKENS["per_s"]
            return " ".join(tokens[: i - 1] + tokens[i + 1:]), scale, unit
        if token in UNIT_TOKENS:
            scale, unit = UNIT_TOKENS[token]
            return " ".join(tokens[:i] + tokens[i + 1:]), scale, unit
    return None


#: how an owner names a figure's floor: ``floor_X`` (or ``bare_X``: the bare Textual app's X)
FLOOR_PREFIXES = ("floor_", "bare_")


def external_figures(figures: dict) -> list[tuple[str, float, str, float | None]]:
    """(label, value, unit, floor) from an owner's dict, whatever its shape.

    Flat keys pair ``X`` with ``floor_X``; a nested ``{"daysheet": {"median_s": .., "floor_s": ..}}``
    pairs its median with its floor. Ratios in the dict are ignored (recomputed here).
    """
    out = []
    for key, value in figures.items():
        if key.startswith(FLOOR_PREFIXES) or "ratio" in key or isinstance(value, bool):
            continue
        if isinstance(value, dict):
            for sub, number in value.items():
                if not sub.startswith(("median_", "value_", "p50_")) or not isinstance(number, (int, float)):
                    continue
                unit = _unit_of(sub)
                if unit:
                    floor = value.get("floor_" + sub.split("_", 1)[1])
                    out.append((key.replace("_", " "), number * unit[1], unit[2],
                                floor * unit[1] if isinstance(floor, (int, float)) else None))
            continue
        if not isinstance(value, (int, float)):
            continue
        unit = _unit_of(key)
        if unit:
            floor = next((figures[p + key] for p in FLOOR_PREFIXES if p + key in figures), None)
            out.append((unit[0], value * unit[1], unit[2], floor * unit[1] if isinstance(floor, (int, float)) else None))
    return out


def run_external(name: str, area: str, what: str, db: Path, table: Table, report: dict, quick: bool,
                 timeout: float) -> None:
    if not (ROOT / "bench" / f"{name}.py").exists():
        table.missing(area, f"{what}: not built yet (bench/{name}.py has not landed)")
        return
    kwargs = {"quick": quick, "rounds": 2 if quick else 10, "runs": 3 if quick else 7,
              "repeats": 3 if quick else 5, "keys": 10 if quick else 60,
              "echo_samples": 15 if quick else 60, "lookup_samples": 5 if quick else 40,
              "ready_runs": 1 if quick else 5, "opens": 1 if quick else 5}
    try:
        proc = subprocess.run([PY, "-c", EXTERNAL_CODE, str(ROOT), name, str(db), json.dumps(kwargs)],
                              capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        table.missing(area, f"{what}: timed out after {timeout:.0f} s")
        return
    if proc.returncode or "@@" not in proc.stdout:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:100]
        table.missing(area, f"{what}: failed ({last})")
        return
    figures = json.loads(proc.stdout.rsplit("@@", 1)[1])
    report["modules"][name] = figures
    rows = external_figures(figures)
    for label, value, unit, floor in rows:
        table.add(area, label, value, unit, floor, "floor" if floor is not None else "",
                  lower_is_better=unit != "/s")
    if not rows:
        table.missing(area, f"{what}: ran, but returned no figures with a unit in their names")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=None,
                        help="demo size (default 1,000,000; --quick: 20,000); a demo already built in bench/data/ is reused")
    parser.add_argument("--db", help="measure this database instead (never written: a copy is made)")
    parser.add_argument("--quick", action="store_true", help="CI-sized: about a minute, building its own 20,000-charge demo")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the demo database even if present")
    parser.add_argument("--kills", type=int, default=None, help="crash-loop kills (default 50; --quick: 5)")
    parser.add_argument("--runs", type=int, default=None, help="runs per median (default 7; --quick: 3)")
    parser.add_argument("--skip", action="append", default=[], help="skip an area (repeatable): demo help save "
                        "memory concurrency crash tui_keys receipts_bench balancing_bench reports_bench")
    args = parser.parse_args(argv)
    if args.charges is None:
        args.charges = 20_000 if args.quick else 1_000_000  # enough open charges for every screen bench
    runs = args.runs or (3 if args.quick else 7)
    kills = args.kills if args.kills is not None else (5 if args.quick else 50)

    started = time.perf_counter()
    table = Table()
    report: dict = {"started": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "quick": args.quick,
                    "charges": args.charges, "runs": runs, "figures": {}, "modules": {},
                    "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    skip = set(args.skip)
    began = time.perf_counter()
    db = prepare_db(args, table, report, skip)
    report["step_seconds"] = {"database": round(time.perf_counter() - began, 2)}
    copy = working_copy(db)
    steps = [
        ("help", lambda: measure_help(table, report, runs)),
        ("save", lambda: measure_save(copy, table, report, 20 if args.quick else 100)),
        ("memory", lambda: measure_memory(copy, table, report, 1 if args.quick else 3)),
        *[(name, (lambda n=name, a=area, w=what: run_external(n, a, w, db, table, report, args.quick,
                                                               300 if args.quick else 3600)))
          for name, area, what in EXTERNAL],
        ("concurrency", lambda: measure_concurrency(table, report, args.quick)),
        ("crash", lambda: measure_crash(table, report, kills)),
    ]
    for name, step in steps:
        if name in skip:
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        step()
        report.setdefault("step_seconds", {})[name] = round(time.perf_counter() - began, 2)
    report["seconds"] = time.perf_counter() - started
    report["rows"] = table.rows
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = json.dumps(report, indent=2, default=str)
    (RESULTS / f"run-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(table.render())
    print(f"\n{len(table.rows)} rows in {report['seconds']:.0f} s on {os.cpu_count()} CPUs; "
          f"JSON: {RESULTS / f'run-{stamp}.json'}")
    for path in (copy,):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
