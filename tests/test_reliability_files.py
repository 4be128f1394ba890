"""Issue 15: a full disk and SIGKILL at random points, with umask 000, for every command that
writes patient data: import, backup, restore, demo, every -o, and a posting.

The work is bench/files_crash.py's (``python bench/files_crash.py --kills 40`` is the long run);
here each scenario is killed 4 times. The small disk is a real tmpfs (we run as root in CI);
where mounting is refused, a per-process file size limit (RLIMIT_FSIZE) makes the kernel answer
EFBIG for real instead, and the test says so.

SQLite books only: the output files are written by the same code from either backend, and a full
disk under a server's books is the server's (it refuses the commit; the DBA's monitoring).
"""

from __future__ import annotations

import random
import sys
import warnings

import pytest

from bench import files_crash as fc

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs and RLIMIT_FSIZE are Linux's")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("filescrash")
    work.chmod(0o755)
    books = work / "books.db"
    fc.build_books(books)
    return books, work, fc.make_reference(books, work)


@pytest.fixture(scope="module")
def disk_full(setup):
    books, work, ref = setup
    disk = fc.SmallDisk(work / "disk")
    if disk.kind != "tmpfs":
        warnings.warn(f"no tmpfs ({disk.why_not_tmpfs}): the disk-full runs use RLIMIT_FSIZE (EFBIG) instead",
                      pytest.PytestWarning, stacklevel=2)
    try:
        yield disk.kind, fc.run_disk_full(books, disk, ref)
    finally:
        disk.close()


@pytest.mark.parametrize("name", ["report -o", "journal -o", "backup", "demo", "init", "import", "restore", "posting"])
def test_a_full_disk_is_one_line_and_nothing_saved(disk_full, name):
    kind, results = disk_full
    assert results[name] == [], f"{name} on a full disk ({kind}): {results[name]}"


@pytest.mark.parametrize("name", fc.SCENARIOS)
def test_sigkill_at_random_points_leaves_no_torn_file_and_loses_nothing(setup, name):
    books, work, ref = setup
    sc = fc.scenario(name, books, work, ref)
    landed, problems, _span = fc.kill_rounds(sc, 4, random.Random(hash(name) & 0xFFFF))
    assert problems == []
    assert landed >= 1, "no kill landed while the command ran: the test proved nothing"
