"""Files with patient data under SIGKILL and a full disk, with umask 000.

Each scenario runs a real `tui-billing` command in its own process with umask 000:

* ``report -o``      report audit -f csv -o FILE (the audit trail: the longest report of these books)
* ``journal -o``     export journal -o FILE
* ``backup``         backup FILE
* ``restore``        restore BACKUP over a copy of the books (whose newest work is still in its -wal)
* ``import``         import fees FILE into the books
* ``demo``           demo --charges N into a new file

Kills: the command is started and SIGKILLed after a random delay, uniform over the time the
same command takes when left alone (so kills land in start-up, the queries, the write, the sync
and the rename alike). After every kill the final name holds either nothing or the whole,
correct result (0600), the books pass `tui-billing check`, and nothing acknowledged is lost:

* an output file, if present, equals the one an unkilled run writes;
* a backup or a demo file, if present, passes SQLite's integrity check and `tui-billing check`;
* after a restore the path holds the old books or the backup's, whole, and when the backup's,
  the old books (the work that was only in their -wal included) are kept aside;
* an import is all there or not there at all.

Disk full: the same commands with their target on a small tmpfs (``mount -t tmpfs -o size=4m``;
without the right to mount, a per-process file size limit, RLIMIT_FSIZE, gives a real EFBIG
instead): exit 1 with one line that names the disk and says nothing was saved, no traceback,
nothing under the final name, the books unchanged.

Run standalone: ``python bench/files_crash.py --kills 40`` (kills per scenario).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-03-20"
SAMPLES = ROOT / "docs" / "samples"
SCENARIOS = ("report -o", "journal -o", "backup", "restore", "import", "demo")


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BILLING_")}
    out.update(TUI_BILLING_TODAY=TODAY, TUI_BILLING_OPERATOR="alice", PYTHONPATH=str(ROOT))
    return out


def _preexec(fsize: int | None) -> Callable[[], None]:
    def setup() -> None:
        os.umask(0o000)  # the widest umask there is: every file must still be private
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return setup


def start(args: list[str], *, fsize: int | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui_billing", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), preexec_fn=_preexec(fsize))


def run(args: list[str], *, fsize: int | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = start(args, fsize=fsize)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def integrity(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def scalar(path: Path, query: str) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchone()[0]
    finally:
        con.close()


def books_ok(path: Path) -> str:
    """"" when `tui-billing check` passes on the file, else why not."""
    proc = run(["--db", str(path), "check", "--quick"])
    return "" if proc.returncode == 0 else f"check failed on {path.name}: {proc.stderr.strip()[-300:]}"


def build_books(path: Path) -> None:
    """The small practice the report tests use (several days, every kind of entry)."""
    code = (f"import pytest, sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from tests.reports_fixtures import build\n"
            f"with pytest.MonkeyPatch.context() as mp:\n    build(__import__('pathlib').Path({str(path)!r}), mp)\n"
            "from tui_billing.store import close_database; close_database()\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=env(), cwd=ROOT, timeout=300)


# --------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """One command: how to set up a fresh round, its argv, and what must hold after it ran or died."""

    name: str
    folder: Path
    books: Path
    reference: dict = field(default_factory=dict)

    # each round gets a clean folder with its own copy of what it writes into
    def prepare(self) -> list[str]:
        for p in self.folder.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        if self.name == "report -o":
            return ["--db", str(self.books), "report", "audit", "-f", "csv", "-o", str(self.target)]
        if self.name == "journal -o":
            return ["--db", str(self.books), "export", "journal", "-o", str(self.target)]
        if self.name == "backup":
            return ["--db", str(self.books), "backup", str(self.target)]
        if self.name == "demo":
            return ["--db", str(self.target), "demo", "--charges", "400", "--days", "20"]
        if self.name == "import":
            shutil.copy(self.reference["books_with_wal"], self.target)
            return ["--db", str(self.target), "import", "fees", str(SAMPLES / "fees.csv")]
        if self.name == "restore":
            for suffix in ("", "-wal"):
                shutil.copy(f"{self.reference['books_with_wal']}{suffix}", f"{self.target}{suffix}")
            return ["--db", str(self.target), "restore", str(self.reference["backup"])]
        raise ValueError(self.name)

    @property
    def target(self) -> Path:
        return self.folder / {"report -o": "audit.csv", "journal -o": "books.journal", "backup": "copy.db",
                              "demo": "demo.db", "import": "books.db", "restore": "books.db"}[self.name]

    def done(self) -> bool:
        """Whether the command's result is in place (for the figures: kills before and after it)."""
        t = self.target
        if self.name == "import":
            return scalar(t, "SELECT count(*) FROM import_file") == 1
        if self.name == "restore":
            return t.exists() and not scalar(t, "SELECT count(*) FROM sqlite_master WHERE name = 'late_work'")
        return t.exists()

    def verify(self, *, killed: bool) -> list[str]:
        """What went wrong (empty when everything held)."""
        problems: list[str] = []
        t = self.target
        present = t.exists()
        if present and mode(t) not in (0o600,):
            problems.append(f"{t.name} is {oct(mode(t))}, not 0600")
        if self.name in ("report -o", "journal -o"):
            if present and t.read_bytes() != self.reference["output"]:
                problems.append(f"{t.name} is torn: {t.stat().st_size} bytes, expected {len(self.reference['output'])}")
        elif self.name in ("backup", "demo"):
            if present:
                if integrity(t) != "ok":
                    problems.append(f"{t.name} fails the integrity check")
                elif self.name == "backup" and scalar(t, "SELECT count(*) FROM charge") != self.reference["charges"]:
                    problems.append("the backup lacks charges")
                else:
                    why = books_ok(t)
                    if why:
                        problems.append(why)
        elif self.name == "import":
            if not present:
                problems.append("the books are gone")
            else:
                fees = scalar(t, "SELECT count(*) FROM procedure")
                if fees not in (self.reference["fees_before"], self.reference["fees_after"]):
                    problems.append(f"a partial import: {fees} fee lines")
                remembered = scalar(t, "SELECT count(*) FROM import_file")
                if remembered != (fees == self.reference["fees_after"]):
                    problems.append("the import record disagrees with what was imported")
                problems += [p for p in [books_ok(t)] if p]
        elif self.name == "restore":
            if not present:
                problems.append("no books at the path after the restore was killed")
            else:
                scratch = scalar(t, "SELECT count(*) FROM sqlite_master WHERE name = 'late_work'")
                if scratch:  # the old books: their late work (only in the -wal) must be there
                    if scalar(t, "SELECT count(*) FROM late_work") != 1:
                        problems.append("the old books lost the work that was in their -wal")
                else:  # the backup's: the old books must be kept aside, late work included
                    kept = [p for p in self.folder.iterdir() if ".before-restore-" in p.name and
                            not p.name.endswith(("-wal", "-shm"))]
                    if not kept:
                        problems.append("the backup is in place but the old books were not kept")
                    elif scalar(kept[0], "SELECT count(*) FROM late_work") != 1:
                        problems.append("the old books kept aside lost the work that was in their -wal")
                if integrity(t) != "ok":
                    problems.append("the books fail the integrity check after the restore")
                problems += [p for p in [books_ok(t)] if p]
        return problems


def make_reference(books: Path, work: Path) -> dict:
    """What an unkilled run produces, and the fixtures the restore and import rounds copy."""
    ref: dict = {"charges": scalar(books, "SELECT count(*) FROM charge")}
    ref["output_report"] = run(["--db", str(books), "report", "audit", "-f", "csv"]).stdout.encode()
    ref["output_journal"] = run(["--db", str(books), "export", "journal"]).stdout.encode()
    backup = work / "backup.db"
    assert run(["--db", str(books), "backup", str(backup)]).returncode == 0
    ref["backup"] = backup
    # books whose newest work is only in the -wal (as the live file is while a clerk works)
    live = work / "live.db"
    assert run(["--db", str(books), "backup", str(live)]).returncode == 0
    con = sqlite3.connect(live)
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    code = (f"import sqlite3, os\ncon = sqlite3.connect({str(live)!r})\ncon.execute('PRAGMA wal_autocheckpoint = 0')\n"
            "con.execute('CREATE TABLE late_work (x)')\ncon.execute('INSERT INTO late_work VALUES (1)')\n"
            "con.commit()\nos._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert Path(f"{live}-wal").stat().st_size > 0
    ref["books_with_wal"] = live
    # the fee counts with and without the sample file (read through a throw-away copy)
    probe = work / "probe"
    probe.mkdir(exist_ok=True)
    for suffix in ("", "-wal"):
        shutil.copy(f"{live}{suffix}", f"{probe / 'p.db'}{suffix}")
    ref["fees_before"] = scalar(probe / "p.db", "SELECT count(*) FROM procedure")
    assert run(["--db", str(probe / "p.db"), "import", "fees", str(SAMPLES / "fees.csv")]).returncode == 0
    ref["fees_after"] = scalar(probe / "p.db", "SELECT count(*) FROM procedure")
    assert ref["fees_after"] > ref["fees_before"]
    return ref


def scenario(name: str, books: Path, work: Path, ref: dict) -> Scenario:
    folder = work / name.replace(" ", "").replace("-", "")
    folder.mkdir(exist_ok=True)
    own = dict(ref)
    own["output"] = ref["output_report"] if name == "report -o" else ref["output_journal"]
    return Scenario(name, folder, books, own)


def kill_rounds(sc: Scenario, kills: int, rng: random.Random, outcomes: dict | None = None) -> tuple[int, list[str], float]:
    """Time one clean run, then ``kills`` runs SIGKILLed at a random moment of that span.
    Returns (how many kills landed before the command finished, problems, the clean run's seconds);
    ``outcomes`` counts what each kill left: "done" (the whole result in place) or "not done"."""
    args = sc.prepare()
    t0 = time.monotonic()
    clean = run(args)
    span = time.monotonic() - t0
    problems = [f"clean run failed: {clean.stderr.strip()[-300:]}"] if clean.returncode else []
    problems += sc.verify(killed=False)
    landed = 0
    for n in range(kills):
        args = sc.prepare()
        proc = start(args)
        time.sleep(rng.uniform(0, span * 0.95))
        if proc.poll() is None:
            landed += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        found = sc.verify(killed=True)
        problems += [f"kill {n + 1}: {p}" for p in found]
        if outcomes is not None:
            key = "done" if sc.done() else "not done"
            outcomes[key] = outcomes.get(key, 0) + 1
        if proc.returncode == 0 or proc.returncode == -signal.SIGKILL:
            continue
        problems.append(f"kill {n + 1}: exit {proc.returncode}")
    return landed, problems, span


# --------------------------------------------------------------------------- disk full


class SmallDisk:
    """A small filesystem at ``path`` (tmpfs) or, where mounting is refused, a per-process file
    size limit (RLIMIT_FSIZE) that makes the kernel answer EFBIG for real."""

    SIZE = "4m"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fsize: int | None = None
        path.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE},mode=0777", "tmpfs", str(path)],
                               capture_output=True, text=True)
        self.kind = "tmpfs" if probe.returncode == 0 else "rlimit"
        self.why_not_tmpfs = probe.stderr.strip()

    def fill(self, free_kib: int) -> None:
        """Leave ``free_kib`` KiB free (tmpfs), or limit every file to that size (rlimit)."""
        if self.kind == "rlimit":
            self.fsize = free_kib * 1024
            return
        filler = self.path / "filler"
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 16, 4096):
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError:
                        break
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - free_kib * 1024))
        finally:
            os.close(fd)

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.path / "filler").unlink()
        self.fsize = None

    def files(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name != "filler")

    def close(self) -> None:
        if self.kind == "tmpfs":
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


def disk_full_cases(books: Path, disk: SmallDisk, ref: dict) -> Iterator[tuple[str, list[str], int]]:
    """(name, argv, KiB left free) for every writer, its target on the small disk. What is left
    free is less than the command writes (some of it is written before the disk says no)."""
    d = disk.path
    assert len(ref["output_report"]) > 8 * 1024 and len(ref["output_journal"]) > 8 * 1024
    yield "report -o", ["--db", str(books), "report", "audit", "-f", "csv", "-o", str(d / "audit.csv")], 4
    yield "journal -o", ["--db", str(books), "export", "journal", "-o", str(d / "b.journal")], 4
    yield "backup", ["--db", str(books), "backup", str(d / "copy.db")], 24
    yield "demo", ["--db", str(d / "demo.db"), "demo", "--charges", "2000", "--days", "40"], 24
    yield "init", ["--db", str(d / "new.db"), "init"], 24


def run_disk_full(books: Path, disk: SmallDisk, ref: dict, free_kib: int = 24) -> dict[str, list[str]]:
    """Each writer against a full disk: one line, no traceback, nothing under the final name."""
    results: dict[str, list[str]] = {}
    for name, args, free in disk_full_cases(books, disk, ref):
        disk.free()
        for p in disk.path.iterdir():
            p.unlink()
        disk.fill(free)
        proc = run(args, fsize=disk.fsize)
        problems = _one_line_disk_full(proc, disk)
        disk.free()
        if disk.files():
            problems.append(f"left {disk.files()}")
        results[name] = problems
    # the books themselves on the small disk: an import, a restore and a posting that find no room
    for name in ("import", "restore", "posting"):
        disk.free()
        for p in disk.path.iterdir():
            p.unlink()
        live = disk.path / "books.db"
        shutil.copy(ref["backup"], live)
        live.chmod(0o600)
        before = _dump(live)
        disk.fill(free_kib if name != "restore" else 8)
        if name == "import":
            proc = run(["--db", str(live), "import", "patients", str(SAMPLES / "patients.csv")], fsize=disk.fsize)
        elif name == "restore":
            proc = run(["--db", str(live), "restore", str(ref["backup"])], fsize=disk.fsize)
        else:  # a clerk's posting through the store's write path (what every screen calls)
            proc = _post_receipt(live, disk.fsize)
        problems = _one_line_disk_full(proc, disk)
        disk.free()
        if _dump(live) != before:
            problems.append("the books changed")
        problems += [p for p in [books_ok(live)] if p]
        leftovers = [f for f in disk.files() if f not in ("books.db",) and not f.startswith("books.db-")]
        if leftovers:
            problems.append(f"left {leftovers}")
        results[name] = problems
    return results


POST_RECEIPT = """
import sys
from tui_billing.store import BillingError, open_database, operations as ops
try:
    open_database(sys.argv[1], create=False)
    ops.record_receipt(amount=2500, method="cash", patient_id=1)
except BillingError as exc:
    print(f"tui-billing: {exc}", file=sys.stderr)
    sys.exit(1)
print("posted")
"""


def _post_receipt(live: Path, fsize: int | None) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-c", POST_RECEIPT, str(live)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), preexec_fn=_preexec(fsize))
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_line_disk_full(proc: subprocess.CompletedProcess, disk: SmallDisk) -> list[str]:
    problems = []
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 1:
        problems.append(f"exit {proc.returncode}")
    if "Traceback" in proc.stderr or len(lines) != 1:
        problems.append(f"not one line: {proc.stderr.strip()[-400:]}")
    elif "nothing was saved" not in lines[0] or (disk.kind == "tmpfs" and str(disk.path) not in lines[0]):
        problems.append(f"does not say which disk and that nothing was saved: {lines[0]}")
    return problems


def _dump(path: Path) -> list:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(t, con.execute(f"SELECT * FROM \"{t}\" ORDER BY 1").fetchall()) for t in tables]
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs per scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        books = work / "books.db"
        build_books(books)
        ref = make_reference(books, work)
        report: dict = {"kills": {}, "disk_full": {}}
        for name in SCENARIOS:
            sc = scenario(name, books, work, ref)
            outcomes: dict = {}
            landed, problems, span = kill_rounds(sc, args.kills, rng, outcomes)
            report["kills"][name] = {"kills": args.kills, "landed_mid_run": landed, "clean_run_s": round(span, 2),
                                     "left": outcomes, "problems": problems}
        disk = SmallDisk(work / "disk")
        try:
            report["disk_full"] = {"kind": disk.kind, **run_disk_full(books, disk, ref)}
        finally:
            disk.close()
    print(json.dumps(report, indent=2))
    bad = [n for n, r in report["kills"].items() if r["problems"]] + \
        [n for n, p in report["disk_full"].items() if n != "kind" and p]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
