"""Who is acting, and whether these books honour the test hooks.

The operator is the OS account of the process's real uid (``pwd.getpwuid(os.getuid())``): an
environment variable (``USER``, ``LOGNAME``, ``TUI_BILLING_OPERATOR``) is the clerk's own to set,
so it can never say who posted.

Two hooks exist for tests and the demo: ``TUI_BILLING_TODAY`` pins the business day and
``TUI_BILLING_OPERATOR`` names the operator. They are honoured only by *test books*: a database
that carries the ``test_book`` row, written when the book was made (by ``demo``, or by a test
through :func:`mark_test_book`) and refused by a trigger once the book has any audit event, so an
office's books can never be turned into one by the program, and a hand-made row is named by
``check`` (see :func:`describe`). Nothing here imports Peewee or Textual: a report pays nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Execute

#: Whether the books open in this process honour the hooks (read when they are opened).
_honours: bool = False
#: Set only by a test process (tests/conftest.py): a brand-new book it opens becomes a test book.
_new_books_are_test_books: bool = False
_lock = threading.Lock()
#: The login role of books on a PostgreSQL server (peer authentication: the server asked the kernel).
_login: str | None = None


def os_user() -> str:
    """The login name of the process's real uid (the uid number if the account has no name)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def honours_hooks() -> bool:
    """True while the open books are a test book (the demo's or a test's)."""
    return _honours


def operator_name(given: str | None = None) -> str:
    """Who is acting: the real uid's account. In a test book, ``given`` or ``TUI_BILLING_OPERATOR`` first."""
    if _honours:
        return given or os.environ.get("TUI_BILLING_OPERATOR") or os_user()
    return _login or os_user()


def pinned_today() -> dt.date | None:
    """``TUI_BILLING_TODAY`` when the open books are a test book, else None (an office's books use the clock)."""
    pinned = os.environ.get("TUI_BILLING_TODAY") if _honours else None
    return dt.date.fromisoformat(pinned) if pinned else None


def books_opened(execute: Execute, *, fresh_marker: Callable[[], None] | None = None, login: str | None = None) -> None:
    """Read the open books' marker (called by the store each time it opens a file).

    ``login``: the server's name for this session (PostgreSQL books); an office's operator is then
    that login, which the server checks on every audit event, not the client's OS account.

    ``fresh_marker`` marks a brand-new book as a test book when a test process asked for that.
    """
    global _honours, _login
    _login = login
    try:
        row = execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'test_book'", ()).fetchone()
        marked = bool(row) and bool(execute("SELECT 1 FROM test_book", ()).fetchone())
        if marked:  # a marker added by hand to books with history is not honoured (and check names it)
            first = execute("SELECT action FROM audit_event ORDER BY id LIMIT 1", ()).fetchone()
            marked = first is None or first[0] == "mark_test_book"
        if not marked and row and _new_books_are_test_books and fresh_marker is not None \
                and not execute("SELECT 1 FROM audit_event LIMIT 1", ()).fetchone():
            fresh_marker()
            marked = True
    except Exception:  # a damaged or foreign file: the open path explains it; never honour hooks then
        marked = False
    _honours = marked


def books_closed() -> None:
    global _honours, _login
    _honours = False
    _login = None


def make_new_books_test_books(on: bool = True) -> None:
    """For a test process only: every brand-new book it opens is marked a test book."""
    global _new_books_are_test_books
    _new_books_are_test_books = on


def mark_test_book(reason: str = "test") -> None:
    """Mark the open (new, empty) book a test book: it honours the hooks and defaults users to admin.

    Refused by the database once the book holds any audit event (an office's books).
    """
    global _honours
    from . import audit
    from .db import database, write

    @write
    def _mark() -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        database.execute_sql("INSERT INTO test_book (id, marked_by, marked_at, reason) VALUES (1, ?, ?, ?)",
                             (os_user(), now, reason))
        # the books' first event: a marker added by hand later cannot have it (see problems())
        audit.record(now, os_user(), "mark_test_book", "test_book", 1, {"reason": reason})

    if not database.execute_sql("SELECT 1 FROM test_book").fetchone():
        _mark()
    _honours = True


def _has_marker_table(execute: Execute) -> bool:
    return bool(execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'test_book'", ()).fetchone())


def describe(execute: Execute) -> str | None:
    """A line for ``check`` when the books honour the test hooks, else None."""
    if not _has_marker_table(execute):  # books older than schema 7
        return None
    row = execute("SELECT marked_by, marked_at, reason FROM test_book", ()).fetchone()
    if not row:
        return None
    return (f"these are TEST books ({row[2]}, marked by {row[0]} at {row[1]}): they honour TUI_BILLING_TODAY "
            "and TUI_BILLING_OPERATOR and make every user without a role an admin; never use them for an office")


def problems(execute: Execute) -> list[str]:
    """A test-book marker that was not there from the books' first event was added by hand."""
    if not _has_marker_table(execute):
        return []
    marked = execute("SELECT 1 FROM test_book", ()).fetchone()
    if not marked:
        return []
    first = execute("SELECT action FROM audit_event ORDER BY id LIMIT 1", ()).fetchone()
    if first and first[0] != "mark_test_book":
        return ["these books were made as an office's but now carry the test-book marker (added by hand?): "
                "they would honour TUI_BILLING_TODAY and TUI_BILLING_OPERATOR; remove it from a backup"]
    return []
