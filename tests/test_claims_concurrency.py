"""Eight clerks' processes build claim batches at once: no two files ever share a control number."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from claims_support import seed_claims_practice

from tui_billing.store import close_database, database, open_database, run_check

PROCESSES = 8
ROUNDS = 3


def _clerk(path: str, out: str, index: int, patient: int, provider: int, barrier, results) -> None:
    """One clerk: post a visit, make its claim and build a batch, a few times over, racing the others."""
    from claims_support import visit

    from tui_billing.store import claims as cl

    open_database(path)
    barrier.wait(timeout=60)
    built = []
    for round_no in range(ROUNDS):  # a visit of its own each time (the same visit twice would be held)
        visit(patient, provider=provider, dos=f"2026-10-{1 + index * ROUNDS + round_no:02d}")
        cl.create_claims()
        built += [(f.receiver, f.interchange_number, f.group_number, f.path) for f in
                  cl.build_batch(output_dir=out).files]
    close_database()
    results.put(built)


def _control_numbers(text: str) -> tuple[int, int]:
    separator = text[3]
    segments = [s.strip().split(separator) for s in text.split(text[105]) if s.strip()]
    isa = next(s for s in segments if s[0] == "ISA")
    gs = next(s for s in segments if s[0] == "GS")
    return int(isa[13]), int(gs[6])


def test_eight_processes_never_share_a_control_number(db: Path, tmp_path: Path) -> None:
    practice = seed_claims_practice()
    close_database()
    out = tmp_path / "claims"
    out.mkdir()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_clerk, args=(str(db), str(out), i, practice.patients[i % 2], practice.providers[0],
                                              barrier, results)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    built = [f for _ in procs for f in results.get(timeout=300)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    files = sorted(out.iterdir())
    assert len(files) == len(built) >= 2
    numbers = [_control_numbers(f.read_text()) for f in files]
    assert len({isa for isa, _ in numbers}) == len(files) and len({gs for _, gs in numbers}) == len(files)
    assert sorted(isa for isa, _ in numbers) == list(range(1, len(files) + 1))  # none skipped, none twice
    assert sorted((r, i, g) for r, i, g, _ in built) == sorted(("CLEARHOUSE1", i, g) for i, g in numbers)
    open_database(db)
    try:
        rows = database.execute_sql("SELECT path, interchange_number, group_number FROM claim_file").fetchall()
        assert sorted((Path(p).name, i, g) for p, i, g in rows) == sorted(
            (f.name, *_control_numbers(f.read_text())) for f in files)
        unbatched = database.execute_sql("SELECT COUNT(*) FROM claim_status WHERE status <> 'batched'").fetchone()[0]
        assert unbatched == 0  # every claim made went out in exactly one file
        claims = database.execute_sql("SELECT COUNT(*) FROM claim").fetchone()[0]
        assert claims == PROCESSES * ROUNDS
        report = run_check(integrity=False)
        assert report.ok, report.problems
    finally:
        close_database()
