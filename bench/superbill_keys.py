"""The standard superbill, keyed in a real pseudo-terminal: how many keys, how fast, how ready.

The superbill (issue 16): 99214-25, 96372, J1100; two diagnoses (E11.9, I10); the same provider
and date of service as the encounter keyed just before. Measured, beside a floor taken in the
same run (a bare Textual app with the same number of Inputs, ``bench/bare_inputs.py``):

- keys: every key sent from the patient field to "Saved encounter" (the target is 40 or fewer;
  the codes and the account are most of them), and the seconds from the first key to "Saved";
- echo: one character typed into a diagnosis field until it comes back (p50/p95, target p95
  <= 12 ms);
- ready: spawn until the form can be typed into, against the bare app's first frame (<= 1.3x).

The saved encounter is read back from the database copy and checked (codes, modifier, two
diagnoses, the previous encounter's provider and DOS), so a key count for a wrong entry is never
reported. Run ``python bench/superbill_keys.py --db /tmp/clerk-demo.db`` (a demo built with
``tui-billing --db /tmp/clerk-demo.db demo --charges 20000 --patients 2000``); the file given is
copied first and never written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PtyProcess, child_env, percentile  # noqa: E402
from bench.tui_keys import ECHO_CHAR, OPERATOR, READY_MARK, prepare  # noqa: E402

ENTER, TAB, SAVE, BACKSPACE = b"\r", b"\t", b"\x13", b"\x7f"
SAVED = "Saved encounter"


def superbill_keys(account: str) -> list[bytes]:
    """The keys of the standard superbill, one entry per key, from the patient field to the save."""
    keys: list[bytes] = [ch.encode() for ch in account] + [ENTER]  # provider, DOS, POS, payer carried over
    for dx in ("E119", "I10"):  # the dot is filled in
        keys += [ch.encode() for ch in dx] + [ENTER]
    keys.append(ENTER)  # an empty diagnosis: on to the service lines
    keys += [ch.encode() for ch in "99214"] + [TAB] + [ch.encode() for ch in "25"] + [ENTER]
    keys += [ch.encode() for ch in "96372"] + [ENTER]
    keys += [ch.encode() for ch in "J1100"] + [SAVE]  # Ctrl+S straight from the last code
    return keys


def _pick(db: Path) -> tuple[str, str, str]:
    """Two plain-named patients' accounts and a provider code from the copy."""
    from tui_billing.store import close_database, open_database
    from tui_billing.store.db import database

    open_database(db, migrate=False)
    try:
        rows = database.execute_sql(
            "SELECT account FROM patient WHERE name_key GLOB '[a-z]*' AND name_key NOT GLOB '*[^a-z,]*' "
            "ORDER BY id LIMIT 2").fetchall()
        provider = database.execute_sql("SELECT code FROM provider ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        close_database()
    return rows[0][0], rows[1][0], provider


def _check_saved(db: Path, first_provider: str) -> None:
    """The superbill as posted: the codes, the modifier, two diagnoses, the carried-over fields."""
    from tui_billing.store import close_database, open_database
    from tui_billing.store.db import database

    open_database(db, migrate=False)
    try:
        last, before = database.execute_sql(
            "SELECT e.id, p.code, e.dos FROM encounter e JOIN provider p ON p.id = e.provider_id "
            "WHERE e.operator = ? ORDER BY e.id DESC LIMIT 2", (OPERATOR,)).fetchall()
        lines = database.execute_sql("SELECT code, modifiers FROM charge WHERE encounter_id = ? ORDER BY id",
                                     (last[0],)).fetchall()
        dx = [r[0] for r in database.execute_sql(
            "SELECT code FROM encounter_diagnosis WHERE encounter_id = ? ORDER BY seq", (last[0],))]
    finally:
        close_database()
    want = [("99214", "25"), ("96372", ""), ("J1100", "")]
    if lines != want or dx != ["E119", "I10"] or last[1:] != before[1:] or last[1] != first_provider:
        raise AssertionError(f"the superbill was not posted as keyed: {lines} {dx} {last} {before}")


def _echo(term: PtyProcess, n: int) -> list[float]:
    out = []
    for _ in range(n):
        out.append(term.echo_time(ECHO_CHAR) * 1000)
        term.send(BACKSPACE)
        term.drain(0.03)
    return out


def measure(db: Path | str, *, echo_samples: int = 60, ready_runs: int = 3) -> dict:
    db = Path(db)
    python = sys.executable
    env = child_env(TUI_BILLING_OPERATOR=OPERATOR)
    from tui_billing.screens.charge_entry import ChargeEntryScreen

    inputs = ChargeEntryScreen.input_count()
    with tempfile.TemporaryDirectory(prefix="superbill-") as tmp:
        copy = prepare(db, Path(tmp))
        first, second, provider = _pick(copy)
        app_ready, bare_ready = [], []
        for _ in range(ready_runs):  # alternated, so machine noise hits both alike
            with PtyProcess([python, "-m", "tui_billing", "--db", str(copy)], env=env, cwd=ROOT) as term:
                app_ready.append(term.wait_for(READY_MARK.decode()))
            with PtyProcess([python, str(ROOT / "bench" / "bare_inputs.py"), str(inputs)], env=env, cwd=ROOT) as term:
                bare_ready.append(term.wait_for("bare-ready"))

        with PtyProcess([python, "-m", "tui_billing", "--db", str(copy)], env=env, cwd=ROOT) as term:
            term.wait_for("control ")
            # The encounter before (not counted): it sets the provider and DOS the superbill reuses.
            setup = f"{first}\r{provider}\rt\r\r\rI10\r\r99213\r".encode()
            term.send(setup)
            time.sleep(4.0)  # the ICD-10 tables load in a thread after the first frame
            term.drain(0.2)
            term.send(SAVE)
            term.wait_for(SAVED)
            term.drain(0.2)
            keys = superbill_keys(second)
            start = time.perf_counter()
            term.send(b"".join(keys))  # typed ahead as one burst, as over SSH
            term.wait_for(SAVED, timeout=30)
            keyed_s = time.perf_counter() - start
            term.drain(0.2)
            term.send(TAB * 5)  # provider, DOS, POS, payer, diagnosis 1: no database work per key
            term.drain(0.2)
            app_echo = _echo(term, echo_samples)
        _check_saved(copy, provider)

        with PtyProcess([python, str(ROOT / "bench" / "bare_inputs.py"), str(inputs)], env=env, cwd=ROOT) as term:
            term.wait_for("bare-ready")
            term.drain(0.3)
            bare_echo = _echo(term, echo_samples)

    med_app, med_bare = statistics.median(app_ready), statistics.median(bare_ready)
    enters = sum(1 for k in keys if k == ENTER)
    return {
        "superbill_keys": len(keys),
        "superbill_enters": enters,
        "superbill_keyed_to_saved_s": round(keyed_s, 3),
        "echo_p50_ms": round(percentile(app_echo, 50), 2),
        "echo_p95_ms": round(percentile(app_echo, 95), 2),
        "bare_echo_p50_ms": round(percentile(bare_echo, 50), 2),
        "bare_echo_p95_ms": round(percentile(bare_echo, 95), 2),
        "ready_s": round(med_app, 3),
        "bare_ready_s": round(med_bare, 3),
        "ready_ratio": round(med_app / med_bare, 3),
        "inputs": inputs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="database to measure on (copied first)")
    parser.add_argument("--echo", type=int, default=60, help="keystroke echo samples")
    parser.add_argument("--ready-runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.db, echo_samples=args.echo, ready_runs=args.ready_runs), indent=2))


if __name__ == "__main__":
    main()
