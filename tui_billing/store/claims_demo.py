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
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import audit, claims
from .clock import today as business_today
from .db import database, write

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
    """Load the history, send the last two days' claims for real, scrub today's; returns counts."""
    today = business_today()
    days = [r[0] for r in database.execute_sql(
        "SELECT DISTINCT posting_date FROM charge WHERE posting_date <= ? ORDER BY posting_date DESC LIMIT 3",
        (today.isoformat(),)).fetchall()]
    if not days:
        return {"claims": 0}
    counts = _history(min(days), today, seed, operator)
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
    rows = conn.execute(
        "SELECT c.id, c.encounter_id, c.payer_id, c.amount, c.patient_id, c.dos, c.posting_date, cb.balance, "
        "cb.payer_id FROM charge c JOIN charge_balance cb ON cb.charge_id = c.id "
        "WHERE c.reverses_id IS NULL AND c.payer_id IS NOT NULL AND c.posting_date < ? AND c.amount > 0 "
        "AND NOT EXISTS (SELECT 1 FROM charge r WHERE r.reverses_id = c.id) ORDER BY c.encounter_id, c.id",
        (before,)).fetchall()
    groups: dict[tuple[int, int], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        groups[(row[1], row[2])].append(row)
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
    claim_rows, line_rows, event_rows, status_rows = [], [], [], []
    counts: dict[str, int] = defaultdict(int)
    for (encounter, payer), lines in groups.items():
        next_id += 1
        number = claims.claim_number(next_id)
        patient = lines[0][4]
        made = dt.date.fromisoformat(max(r[6] for r in lines))
        coverage, prio = priority.get((patient, payer), (None, 1))
        total = sum(r[3] for r in lines)
        claim_rows.append((next_id, number, patient, coverage, payer, encounter, min(r[5] for r in lines), "1", None,
                           "", {1: "P", 2: "S", 3: "T"}.get(prio, "P"), total, made.isoformat(), _at(made, 17),
                           operator))
        line_rows += [(next_id, n, r[0], f"{number}-{n}", r[3]) for n, r in enumerate(lines, 1)]
        settled = [r[7] == 0 or r[8] != payer for r in lines]  # the payer has done its part on the line
        story = [("batched", "", made, ""), ("sent", "", made, "")]
        answered = min(today, made + dt.timedelta(days=1 + rng.randrange(2)))
        pcn = f"{payer:02d}{next_id:011d}"
        if all(settled):
            story.append(("accepted", "", answered, pcn))
            story.append(("paid", "", min(today, made + dt.timedelta(days=12 + rng.randrange(20))), pcn))
        elif any(settled):
            story.append(("accepted", "", answered, pcn))
            story.append(("partly_paid", "", min(today, made + dt.timedelta(days=12 + rng.randrange(20))), pcn))
        else:
            luck = rng.random()
            if luck < 0.03:
                story.append(("rejected", rng.choice(_REJECTIONS), answered, ""))
            elif luck < 0.05:
                story.append(("accepted", "", answered, pcn))
                story.append(("denied", rng.choice(_DENIALS), min(today, made + dt.timedelta(days=20)), pcn))
            else:
                story.append(("accepted", "", answered, pcn))
        for status, reason, day, number_given in story:
            next_event += 1
            event_rows.append((next_event, next_id, status, reason, number_given, day.isoformat(),
                               _at(day, 18), operator))
        status_rows.append((next_id, story[-1][0], next_event, story[-1][2].isoformat()))
        counts[story[-1][0]] += 1
    conn.executemany(
        "INSERT INTO claim (id, claim_id, patient_id, coverage_id, payer_id, encounter_id, dos, frequency, "
        "replaces_claim_id, payer_claim_number, responsibility, total, created_on, created_at, operator) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", claim_rows)
    conn.executemany("INSERT INTO claim_line (claim_id, line_no, charge_id, control_number, charge) "
                     "VALUES (?,?,?,?,?)", line_rows)
    conn.executemany("INSERT INTO claim_event (id, claim_id, status, reason, payer_claim_number, on_date, at, "
                     "operator) VALUES (?,?,?,?,?,?,?,?)", event_rows)
    conn.executemany("INSERT INTO claim_status (claim_id, status, event_id, since) VALUES (?,?,?,?)", status_rows)
    for _, _, sql in saved:  # indexes first (type order), then the triggers
        conn.execute(sql)
    result = {"history claims": len(claim_rows), **{f"history {k}": v for k, v in sorted(counts.items())}}
    audit.record(_at(today, 6), operator, "demo_claims", "claim", None, result)
    return result
