"""The demo's claims history: every queue of the claims screen has something to show.

Called once by the demo after its accounts are filled (:func:`fill_demo_claims`):

* the history (every payer-billed encounter posted before the last three posting days) is
  bulk-loaded in one transaction, as the rest of the demo is: claims, lines and events are
  written with the claim tables' indexes and triggers dropped and then rebuilt from the
  migration's own SQL, ``claim_status`` written from the same events. What the payer did decides
  the story: a claim whose charges the payer has settled was sent, accepted and paid (or partly
  paid); one still open was accepted (the older ones are the follow-up list), a few were rejected
  or denied. These went out before these books kept files, so their events name no file;
* the two posting days before today go through the real path: claims made and scrubbed, built
  into real 837P files in ``output_dir`` (0600, control numbers from the counter) and marked sent,
  so they wait for an acknowledgement;
* today's charges become claims, scrubbed: ready, or held with the scrubber's reasons.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import audit, claims
from .clock import today as business_today
from .db import database, on_server, write
from .errors import BillingError

__all__ = ["fill_demo_claims"]

_CLAIM_TABLES = ("claim", "claim_line", "claim_event", "claim_status", "claim_file", "claim_counter")
#: 277CA rejections a clearinghouse sends back (category:status code and what it means to a clerk).
_REJECTIONS = (
    "A7:562 entity's national provider identifier (NPI) not recognised by the payer",
    "A7:33 subscriber and subscriber id not found",
    "A7:164 entity's contract/member number: member id invalid for the date of service",
    "A6:21 missing or invalid information: patient's date of birth does not match the payer's",
)
_DENIALS = ("CO-50 not deemed a medical necessity by the payer", "CO-29 the time limit for filing has expired",
            "CO-197 precertification/authorization absent", "CO-16 claim lacks information needed for adjudication")


def _at(day: dt.date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:{17 + hour:02d}:00+00:00"


def fill_demo_claims(output_dir: str | Path | None, *, seed: int = 1, operator: str = "mgarcia") -> dict[str, int]:
    """Load the history, send the last two days' claims for real, scrub today's; returns counts.

    SQLite only, like the demo's whole bulk load (its build file, without its guards for the load): a
    demo for a PostgreSQL server is built as that file and then moved there (pg_cli.demo_on_server)."""
    if on_server():
        raise BillingError("the demo's claims are loaded into the demo's SQLite build file: run `tui-billing demo "
                           "--db postgresql://...`, which builds one and moves it to the server")
    today = business_today()
    days = [r[0] for r in database.execute_sql(
        "SELECT DISTINCT posting_date FROM charge WHERE posting_date <= ? ORDER BY posting_date DESC LIMIT 3",
        (today.isoformat(),)).fetchall()]
    if not days:
        return {"claims": 0}
    conn = database.connection()
    checking = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")  # as the demo's bulk load: its rows point at rows it just read
    try:
        counts = _history(min(days), today, seed, operator)
    finally:
        conn.execute(f"PRAGMA foreign_keys = {int(checking)}")
    recent = sorted(d for d in days if d != today.isoformat())
    if output_dir is not None:
        Path(output_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        for old in Path(output_dir).glob("837P-*.x12"):  # the folder is the demo's: a rebuilt demo starts it again
            old.unlink()
        for day in recent:
            claims.create_claims(posted_on=day, operator=operator)
            sent_at = _at(dt.date.fromisoformat(day), 17)  # a fixed time: a seed always gives the same files
            for built in claims.build_batch(output_dir=output_dir, operator=operator, at=sent_at).files:
                counts["awaiting acknowledgement"] = counts.get("awaiting acknowledgement", 0) + \
                    claims.mark_sent(built.file_id, operator=operator)
                counts["files"] = counts.get("files", 0) + 1
        # the clearinghouse's 999/277CA answers (issue 13, claims-paper): the older day's imported, the last day's waiting
        from .claim_paper import demo_acks

        counts.update(demo_acks(output_dir, operator=operator))
    made = claims.create_claims(posted_on=today.isoformat(), operator=operator)
    counts["ready today"] = len(made.ready)
    counts["held today"] = len(made.held)
    return counts


@write
def _history(before: str, today: dt.date, seed: int, operator: str) -> dict[str, int]:
    rng = random.Random(seed * 104729 + 13)
    conn = database.connection()
    priority: dict[tuple[int, int], tuple[int, int]] = {}
    for cid, patient, payer, prio in conn.execute(
            "SELECT id, patient_id, payer_id, priority FROM coverage ORDER BY priority DESC, id DESC"):
        priority[(patient, payer)] = (cid, prio)  # the lowest priority number wins (read last)
    saved = conn.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
        f"AND tbl_name IN ({','.join('?' * len(_CLAIM_TABLES))}) ORDER BY type, rowid", _CLAIM_TABLES).fetchall()
    for kind, name, _ in saved:  # the load runs without them, as the demo's own bulk load does
        conn.execute(f"DROP {kind.upper()} {name}")
    next_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM claim").fetchone()[0]
    next_event = conn.execute("SELECT COALESCE(MAX(id), 0) FROM claim_event").fetchone()[0]
    claim_rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    status_rows: list[tuple[Any, ...]] = []
    counts: dict[str, int] = defaultdict(int)
    made_claims = 0
    charges = conn.execute(
        "SELECT c.id, c.encounter_id, c.payer_id, c.amount, c.patient_id, c.dos, c.posting_date, cb.balance, "
        "cb.payer_id FROM charge c JOIN charge_balance cb ON cb.charge_id = c.id "
        "WHERE c.reverses_id IS NULL AND c.payer_id IS NOT NULL AND c.posting_date < ? AND c.amount > 0 "
        "AND NOT EXISTS (SELECT 1 FROM charge r WHERE r.reverses_id = c.id) ORDER BY c.encounter_id, c.id",
        (before,))
    # streamed an encounter at a time and written in slices: a year of a big practice is millions of rows
    for _encounter, rows in itertools.groupby(charges, key=lambda r: r[1]):
        by_payer: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            by_payer[row[2]].append(row)
        for payer, lines in by_payer.items():
            next_id += 1
            made_claims += 1
            next_event = _claim_story(next_id, next_event, payer, lines, priority, today, rng, operator,
                                      (claim_rows, line_rows, event_rows, status_rows), counts)
        if len(claim_rows) >= _SLICE:
            _flush(conn, claim_rows, line_rows, event_rows, status_rows)
    _flush(conn, claim_rows, line_rows, event_rows, status_rows)
    for _, _, sql in saved:  # indexes first (type order), then the triggers
        conn.execute(sql)
    result = {"history claims": made_claims, **{f"history {k}": v for k, v in sorted(counts.items())}}
    audit.record(_at(today, 6), operator, "demo_claims", "claim", None, result)
    return result


_SLICE = 20_000


def _flush(conn: Any, claim_rows: list[tuple[Any, ...]], line_rows: list[tuple[Any, ...]],
           event_rows: list[tuple[Any, ...]], status_rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(
        "INSERT INTO claim (id, claim_id, patient_id, coverage_id, payer_id, encounter_id, dos, frequency, "
        "replaces_claim_id, payer_claim_number, responsibility, total, created_on, created_at, operator) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", claim_rows)
    conn.executemany("INSERT INTO claim_line (claim_id, line_no, charge_id, control_number, charge) "
                     "VALUES (?,?,?,?,?)", line_rows)
    conn.executemany("INSERT INTO claim_event (id, claim_id, status, reason, payer_claim_number, on_date, at, "
                     "operator) VALUES (?,?,?,?,?,?,?,?)", event_rows)
    conn.executemany("INSERT INTO claim_status (claim_id, status, event_id, since) VALUES (?,?,?,?)", status_rows)
    for rows in (claim_rows, line_rows, event_rows, status_rows):
        rows.clear()


@lru_cache(maxsize=8192)
def _day(ordinal: int) -> tuple[str, str, str]:
    """A day as the rows write it: (ISO date, 17:xx timestamp, 18:xx timestamp); a year holds few days."""
    day = dt.date.fromordinal(ordinal)
    return day.isoformat(), _at(day, 17), _at(day, 18)


@lru_cache(maxsize=8192)
def _ordinal(iso: str) -> int:
    return dt.date.fromisoformat(iso).toordinal()


_RESPONSIBILITY = {1: "P", 2: "S", 3: "T"}


def _claim_story(claim_row: int, next_event: int, payer: int, lines: list[tuple[Any, ...]],
                 priority: dict[tuple[int, int], tuple[int, int]], today: dt.date, rng: random.Random, operator: str,
                 out: tuple[list[tuple[Any, ...]], ...], counts: dict[str, int]) -> int:
    """One history claim and the events of what its payer did; returns the last event id used.

    Days are ordinals and their texts cached: this runs once per claim of a year's history."""
    claim_rows, line_rows, event_rows, status_rows = out
    number = claims.claim_number(claim_row)
    patient, encounter = lines[0][4], lines[0][1]
    made = _ordinal(max(r[6] for r in lines))
    last = today.toordinal()
    coverage, prio = priority.get((patient, payer), (None, 1))
    made_iso, made_at, _ = _day(made)
    claim_rows.append((claim_row, number, patient, coverage, payer, encounter, min(r[5] for r in lines), "1", None,
                       "", _RESPONSIBILITY.get(prio, "P"), sum(r[3] for r in lines), made_iso, made_at, operator))
    line_rows += [(claim_row, n, r[0], f"{number}-{n}", r[3]) for n, r in enumerate(lines, 1)]
    settled = [r[7] == 0 or r[8] != payer for r in lines]  # the payer has done its part on the line
    story = [("batched", "", made, ""), ("sent", "", made, "")]
    answered = min(last, made + 1 + rng.randrange(2))
    pcn = f"{payer:02d}{claim_row:011d}"
    later = min(last, made + 12 + rng.randrange(20))
    if all(settled):
        story += [("accepted", "", answered, pcn), ("paid", "", later, pcn)]
    elif any(settled):
        story += [("accepted", "", answered, pcn), ("partly_paid", "", later, pcn)]
    else:
        luck = rng.random()
        if luck < 0.03:
            story.append(("rejected", rng.choice(_REJECTIONS), answered, ""))
        elif luck < 0.05:
            story += [("accepted", "", answered, pcn), ("denied", rng.choice(_DENIALS), min(last, made + 20), pcn)]
        else:
            story.append(("accepted", "", answered, pcn))
    for status, reason, day, number_given in story:
        next_event += 1
        iso, _, at = _day(day)
        event_rows.append((next_event, claim_row, status, reason, number_given, iso, at, operator))
    status_rows.append((claim_row, story[-1][0], next_event, _day(story[-1][2])[0]))
    counts[story[-1][0]] += 1
    return next_event
