"""A process killed in the middle of posting an 835 leaves nothing half-posted (one transaction)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import claims_support

from tui_billing.store import close_database, open_database, run_check

from era_support import books_claim, fixture_for
from store_helpers import OPERATOR, TODAY, dump_database

KILLER = textwrap.dedent("""
    import os, signal, sys
    from tui_billing.store import open_database
    from tui_billing.store import era as era_store

    real = era_store._write_plans

    def write_then_die(plans):
        real(plans)      # the claims' distributions are written (in the transaction)
        print("distributed", len(plans), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    era_store._write_plans = write_then_die
    open_database(sys.argv[1])
    era_store.import_era(sys.argv[2])
""")


def test_kill_mid_post_leaves_nothing(db, today, tmp_path):
    cp = claims_support.seed_claims_practice()
    number, controls, _, _ = books_claim(cp.patients[0], cp.payers[0], ("99213", "36415"), "2026-11-02")
    path = fixture_for("paid", {"C1": (number, controls)}, tmp_path)
    before = dump_database()
    close_database()
    env = {**os.environ, "TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": OPERATOR}
    done = subprocess.run([sys.executable, "-c", KILLER, str(db), str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "distributed" in done.stdout  # it died after writing the receipt and a distribution
    open_database(db)
    assert dump_database() == before
    assert run_check().ok
    # and the file posts whole afterwards
    from tui_billing.store import era as era_store

    assert era_store.import_era(path).lines_posted == 2
