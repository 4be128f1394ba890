"""Shared fixtures for every test module.

Keep these generic: a module that needs more builds it on top of them in its own file.

* Every book a test opens new is a *test book* (store/identity.py): only such a book honours the
  hooks below, and its users without a role are admins. ``office_books`` turns that off.
* ``today`` pins the business day (``TUI_BILLING_TODAY``) and the operator
  (``TUI_BILLING_OPERATOR``) so posting dates, DOS checks and audit users are deterministic.
  Change the day in a test with ``monkeypatch.setenv("TUI_BILLING_TODAY", ...)``.
* ``db`` is a fresh, migrated database file under ``tmp_path`` opened on the global
  ``store.database`` (closed afterwards). It yields the file's path.
* ``practice`` seeds a small practice into ``db`` (see ``store_helpers.seed_practice``) and
  yields its ids: ``practice.providers``, ``practice.payers``, ``practice.patients``
  (primary-only, primary+secondary, self-pay), ``practice.fees``.
* ``dump`` is ``store_helpers.dump_database``: compare two calls to prove nothing changed.

Every test leaves the process as it found it, whatever order they run in (pytest-randomly
shuffles them): after each test's teardown the environment must equal what the session started
with (a fixture of module or session scope that pins ``TUI_BILLING_TODAY`` fails the test it
first ran in). The store's global database is then closed and reset to unopened, so a test that
forgets to open its own books fails instead of reading whichever file the last test opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui_billing.store import close_database, identity, open_database
from tui_billing.store import db as store_db

import pg_server
import store_helpers
from store_helpers import OPERATOR, TODAY

#: Changes the environment may show: pytest's own per-phase variable, and the repaint cap that
#: tui_billing/app.py sets for the whole process when it is first imported (on purpose, not a test's).
_PYTEST_OWN = {"PYTEST_CURRENT_TEST", "TEXTUAL_FPS"}
_SESSION_ENV = {k: v for k, v in os.environ.items() if k not in _PYTEST_OWN}


def _leaked_environment() -> list[str]:
    now = {k: v for k, v in os.environ.items() if k not in _PYTEST_OWN}
    changed = sorted(k for k in now.keys() | _SESSION_ENV.keys() if now.get(k) != _SESSION_ENV.get(k))
    return [f"{k}={now.get(k)!r} (the session started with {_SESSION_ENV.get(k)!r})" for k in changed]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    problems = []
    leaked = _leaked_environment()
    if leaked:
        for key in {entry.split("=", 1)[0] for entry in leaked}:  # put it back for the next test
            if key in _SESSION_ENV:
                os.environ[key] = _SESSION_ENV[key]
            else:
                os.environ.pop(key, None)
        problems.append("left environment behind: " + "; ".join(leaked))
    database = store_db._database
    if database is not None:
        close_database()
        database.init(None)  # unopened: the next test must open its own books
    if problems:
        raise AssertionError(f"{item.nodeid} " + " and ".join(problems))
    return result


@pytest.fixture(autouse=True, scope="session")
def _test_books() -> Iterator[None]:
    """Every brand-new book a test opens in this process is a test book: it honours TUI_BILLING_TODAY
    and TUI_BILLING_OPERATOR and makes users without a role admins (see store/identity.py).
    A test of an office's books turns this off with ``office_books``."""
    identity.make_new_books_test_books(True)
    yield
    identity.make_new_books_test_books(False)


@pytest.fixture
def office_books() -> Iterator[None]:
    """Books opened new in this test are an office's: real uid, wall clock, real roles."""
    identity.make_new_books_test_books(False)
    try:
        yield
    finally:
        identity.make_new_books_test_books(True)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin TUI_BILLING_TODAY and TUI_BILLING_OPERATOR; returns the pinned date as ISO text."""
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", OPERATOR)
    monkeypatch.delenv("TUI_BILLING_DB", raising=False)
    return TODAY


#: Test modules whose tests that take ``db`` (or ``practice``) run on both backends: SQLite and a
#: real PostgreSQL server (tests/pg_server.py). A test that needs a file (it opens sqlite3 on the
#: path, damages it, backs it up) is marked ``@pytest.mark.sqlite_only``. A module marked sqlite_only as a
#: whole (for CI time) keeps the tests marked ``@pytest.mark.both_backends`` on both.
BOTH_BACKENDS = {
    "test_store_db", "test_store_properties", "test_store_transfers", "test_store_bad_input", "test_reports",
    "test_balancing_store", "test_batch_corrections", "test_accounts_store", "test_roles",
    "test_claims_store", "test_era_post", "test_claims_cli", "test_claim_paper", "test_era_cli", "test_claims_concurrency",
    "test_era_journal", "test_claims_store_property", "test_tamper", "test_read_audit",
    "test_claims_screen", "test_era_screen",  # the claims and remittances screens keyed on PostgreSQL too
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: needs the SQLite file itself (runs on SQLite only)")
    config.addinivalue_line("markers", "both_backends: runs on PostgreSQL too, in a module marked sqlite_only as a "
                                       "whole (its other tests run the same store SQL: the CI time budget)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db" not in metafunc.fixturenames or metafunc.module.__name__ not in BOTH_BACKENDS:
        return
    marked = metafunc.definition.get_closest_marker
    if marked("sqlite_only") and not marked("both_backends"):  # both_backends: a test a sqlite_only module keeps on both
        return
    metafunc.parametrize("db", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg_server.Cluster]:
    """One throwaway PostgreSQL server for the session (skipped without its binaries, unless required)."""
    pg_server.require_or_skip()
    cluster = pg_server.Cluster()
    try:
        cluster.start()
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, today: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the books' schema (not opened); its URL, as the owner."""
    cluster: pg_server.Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.fresh_books()
    try:
        yield url
    finally:
        close_database()


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path, today: str) -> Iterator[Path | str]:
    """A fresh database open on store.database: a file at tmp_path/billing.db (its path is yielded), or,
    for a test of a BOTH_BACKENDS module, also a PostgreSQL database (its URL is yielded)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        open_database(url)
        try:
            yield url
        finally:
            close_database()
        return
    path = open_database(tmp_path / "billing.db")
    try:
        yield path
    finally:
        close_database()


@pytest.fixture
def practice(db: Path) -> store_helpers.Practice:
    """The small seeded practice in the fresh database."""
    return store_helpers.seed_practice()


@pytest.fixture
def dump() -> Callable[[], str]:
    """A full, ordered dump of the open database (equal dumps = nothing changed)."""
    return store_helpers.dump_database
