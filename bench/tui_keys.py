"""Charge entry as the clerk feels it, in a real pseudo-terminal (not Pilot).

Measures, beside a floor taken in the same run (a bare Textual app with the same number of Inputs):

- ready: from spawning the process until the form can be typed into: its first frame, with
  focus in the patient field (the diagnosis grid and service lines follow in the next frame;
  ``all_fields_s`` times that, ``batch_loaded_s`` the batch panel). For the floor: its first
  frame (all of its inputs);
- keystroke echo: from writing one character to the terminal until the character comes back in
  the app's output (the field is a diagnosis field, which does no database work per key);
- patient lookup: from writing the last character of a name prefix until the first matching
  patient's account is painted in the drop-down.

Importable (``measure(db) -> dict`` for bench/run.py) and runnable:
``python bench/tui_keys.py --db bench/data/demo-1000000.db``. The database is copied first (an open
batch is added to the copy, so the screen starts on the form); the given file is never written.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, PtyProcess

COLS, ROWS = 80, 24
OPERATOR = "bench"
ECHO_CHAR = b"Q"
#: Painted in the form's first frame, with focus already in the patient field: typing is accepted.
READY_MARK = b"Total 0.00"
#: The service-line header: painted once every field of the form is on screen.
FULL_MARK = b"Mod Mod Mod Mod Un"  # not a final byte of any escape sequence Textual writes
QUIT = b"\x11"  # Ctrl+Q


def _term(argv: list[str], env: dict[str, str]) -> PtyProcess:
    return PtyProcess(argv, cols=COLS, rows=ROWS, env=env, cwd=ROOT)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as bench.common.child_env: compiled modules cached
    env.update({"TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS), "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _echo_samples(term: PtyProcess, n: int) -> list[float]:
    """Type ECHO_CHAR into the focused field and time its echo; Backspace (untimed) between."""
    out = []
    for _ in range(n):
        term.drain(0.03, limit=2.0)
        mark = term.mark()
        t = term.send(ECHO_CHAR)
        while ECHO_CHAR not in term.output[mark:]:
            if not term.read_some(2.0):
                raise TimeoutError("no echo")
        out.append((time.perf_counter() - t) * 1000)
        term.send(b"\x7f")
    term.drain(0.05, limit=2.0)
    return out


def prepare(db: Path, workdir: Path) -> Path:
    """Copy the database and give the bench operator an open batch (so the form is first)."""
    sys.path.insert(0, str(ROOT))
    from tui_billing.store import close_database, open_database, operations

    copy = workdir / "bench.db"
    shutil.copy(db, copy)
    for suffix in ("-wal", "-shm"):
        if Path(str(db) + suffix).exists():
            shutil.copy(str(db) + suffix, str(copy) + suffix)
    os.chmod(copy, 0o600)
    open_database(copy)
    operations.open_batch("charge", 10, 100000, operator=OPERATOR)
    close_database()
    return copy


def lookup_queries(db: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(prefix, first hit's account) for random patients' ``last,f`` name prefixes.

    Prefixes whose last character changes the first hit are preferred (the lookup had to do
    new work); the list is shown fresh each time, so the first hit's account is always painted.
    """
    from tui_billing.store import close_database, open_database
    from tui_billing.store.db import database
    from tui_billing.store.lookups import find_patients

    open_database(db, migrate=False)
    total = database.execute_sql("SELECT MAX(id) FROM patient").fetchone()[0] or 0
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    tries = 0
    while len(out) < n and total:
        row = database.execute_sql("SELECT name_key FROM patient WHERE id = ?", (rng.randint(1, total),)).fetchone()
        if not row:
            continue
        last, _, first = row[0].partition(",")
        tries += 1
        for prefix in (f"{last[:5]},{first[:1]}", f"{last},{first[:2]}", last[:4], last[:3]):
            if len(prefix) < 2 or any(not (ch.isalnum() or ch in ",'- ") for ch in prefix):
                continue
            hits, before = find_patients(prefix), find_patients(prefix[:-1])
            if hits and before and hits[0].account != before[0].account:
                out.append((prefix, hits[0].account))
                break
        if tries > n * 50:
            break
    close_database()
    return out


def measure(db: Path | str, *, echo_samples: int = 60, lookup_samples: int = 40, ready_runs: int = 3) -> dict:
    """Run the pty measurements; returns figures in ms (ready in s) and the ratio to the floor."""
    db = Path(db)
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="tui-keys-") as tmp:
        work = Path(tmp)
        copy = prepare(db, work)
        queries = lookup_queries(copy, lookup_samples)
        env = _env({"TUI_BILLING_OPERATOR": OPERATOR})
        from tui_billing.screens.charge_entry import ChargeEntryScreen  # count its Inputs for the floor

        inputs = ChargeEntryScreen.input_count()
        app_ready, bare_ready = [], []
        # Alternate the two so machine noise hits both alike.
        app_loaded, app_full = [], []
        for _ in range(ready_runs):
            term = _term([python, "-m", "tui_billing", "--db", str(copy)], env)
            app_ready.append(term.wait_for(READY_MARK, new_only=False))
            app_loaded.append(app_ready[-1] + term.wait_for(b"control ", new_only=False))
            app_full.append(app_ready[-1] + term.wait_for(FULL_MARK, new_only=False))
            term.close(QUIT)
            term = _term([python, str(ROOT / "bench" / "bare_inputs.py"), str(inputs)], env)
            bare_ready.append(term.wait_for(b"bare-ready", new_only=False))
            term.close(QUIT)

        # Keystroke echo in the real form: Tab to diagnosis 1 (no database work per key).
        term = _term([python, "-m", "tui_billing", "--db", str(copy)], env)
        term.wait_for(b"control ", new_only=False)
        time.sleep(4.0)  # let the ICD-10 tables finish loading in their thread
        term.drain(0.2, limit=2.0)
        term.send(b"\t" * 5)
        term.drain(0.2, limit=2.0)
        app_echo = _echo_samples(term, echo_samples)

        # Patient lookup: Shift+Tab back to the patient field; each query typed, then timed to its hit.
        term.send(b"\x1b[Z" * 5)
        term.drain(0.2, limit=2.0)
        lookup = []
        for prefix, account in queries:
            term.send(b"\x15")  # Ctrl+U clears the field, which hides the list
            term.drain(0.08, limit=2.0)
            mark = term.mark()
            # One bracketed paste: one change of the field, one search, and the list appears whole
            # (a terminal only repaints cells that changed, so a list that merely shifts would
            # not show the account we wait for).
            t = term.send(b"\x1b[200~" + prefix.encode() + b"\x1b[201~")
            term.wait_for(account.encode(), timeout=5.0, since=mark)
            lookup.append((time.perf_counter() - t) * 1000)
        term.close(QUIT)

        term = _term([python, str(ROOT / "bench" / "bare_inputs.py"), str(inputs)], env)
        term.wait_for(b"bare-ready", new_only=False)
        term.drain(0.3, limit=2.0)
        bare_echo = _echo_samples(term, echo_samples)
        term.close(QUIT)

    med_app, med_bare = statistics.median(app_ready), statistics.median(bare_ready)
    return {
        "inputs": inputs,
        "echo_p50_ms": round(_pct(app_echo, 50), 2),
        "echo_p95_ms": round(_pct(app_echo, 95), 2),
        "bare_echo_p50_ms": round(_pct(bare_echo, 50), 2),
        "bare_echo_p95_ms": round(_pct(bare_echo, 95), 2),
        "lookup_p50_ms": round(_pct(lookup, 50), 2) if lookup else None,
        "lookup_p95_ms": round(_pct(lookup, 95), 2) if lookup else None,
        "lookup_samples": len(lookup),
        "ready_s": round(med_app, 3),
        "bare_ready_s": round(med_bare, 3),
        "ready_ratio": round(med_app / med_bare, 3),
        "batch_loaded_s": round(statistics.median(app_loaded), 3),
        "all_fields_s": round(statistics.median(app_full), 3),
        "all_fields_ratio": round(statistics.median(app_full) / med_bare, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="database to measure on (copied first)")
    parser.add_argument("--echo", type=int, default=60, help="keystroke samples")
    parser.add_argument("--lookups", type=int, default=40, help="patient lookup samples")
    parser.add_argument("--ready-runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.db, echo_samples=args.echo, lookup_samples=args.lookups,
                             ready_runs=args.ready_runs), indent=2))


if __name__ == "__main__":
    main()
