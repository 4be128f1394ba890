"""The connection: where the database lives, how it is opened, and the write transaction.

Nothing here connects at import time: :data:`database` is a deferred Peewee database that
:func:`open_database` initialises with a path. Peewee itself loads on first use of
:data:`database` (a report opens the books with :func:`open_reader` on a plain sqlite3
connection and never pays for it; :func:`sql` reads from whichever is open). Every write goes
through :func:`write`, which
runs the whole unit of work in one ``BEGIN IMMEDIATE`` transaction and retries it whole when
another clerk's process holds the write lock for longer than the busy timeout.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from .errors import BillingError, DatabaseFileError

if TYPE_CHECKING:
    from peewee import SqliteDatabase

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
WRITE_ATTEMPTS = 8

#: SQLite pragmas for money: WAL so readers never block the writer, FULL sync so an
#: acknowledged entry survives a power cut, foreign keys on, and a busy timeout so a second
#: clerk waits for the lock instead of failing at once.
PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
    "synchronous": "full",
    "cache_size": -32000,
    "temp_store": "memory",
}



class StoreDatabase(Protocol):
    """What the store's modules use of Peewee's database, typed: Peewee's own stubs leave
    ``execute_sql`` and ``connection`` untyped (a Peewee ``SqliteDatabase`` is one, see :func:`_db`)."""

    database: Any  # the file's path once opened (None before); Peewee leaves it untyped

    def execute_sql(self, sql: str, params: Sequence[Any] | None = None) -> sqlite3.Cursor: ...
    def connection(self) -> sqlite3.Connection: ...
    def in_transaction(self) -> bool: ...
    def atomic(self, lock_type: str | None = None) -> AbstractContextManager[object]: ...
    def close(self) -> bool: ...


#: A function that runs one statement on the open books (``database.execute_sql``, or a report's
#: ``sqlite3.Connection.execute``): what the checks that work on either take.
Execute = Callable[[str, Sequence[Any]], sqlite3.Cursor]


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just wrote (sqlite3 types ``lastrowid`` Optional: it is None only before any INSERT)."""
    rowid = cursor.lastrowid
    assert rowid is not None, "inserted_id() reads the cursor of an INSERT"
    return rowid


_database: SqliteDatabase | None = None
_sqlite: SqliteDatabase | None = None
if TYPE_CHECKING:
    #: made on first use by the module's ``__getattr__`` (below); declared so importers see its type
    database: StoreDatabase
_database_lock = threading.Lock()


def _db() -> SqliteDatabase:
    """The store's database (one object for the whole process, made on first use): a Peewee proxy
    that points at the SQLite database, or at a PostgreSQL server's while one is open (store/pg.py)."""
    global _database, _sqlite
    if _database is None:
        with _database_lock:  # screens import in a worker thread too: never two objects
            if _database is None:
                from peewee import DatabaseProxy, SqliteDatabase

                # Every transaction is BEGIN IMMEDIATE: a deferred transaction that reads and then
                # writes can fail at once with SQLITE_BUSY under a concurrent writer, and cannot
                # be retried by waiting.
                _sqlite = SqliteDatabase(None, lock_type="IMMEDIATE", check_same_thread=False)

                class Books(DatabaseProxy):
                    """Peewee's proxy, with the hot methods bound on it: a query costs what it did before
                    the proxy (no __getattr__ on each call)."""

                    def initialize(self, obj: Any) -> None:
                        super().initialize(obj)
                        if obj is not None:
                            self.__dict__.update(execute_sql=obj.execute_sql, in_transaction=obj.in_transaction)

                proxy = Books()
                proxy.initialize(_sqlite)
                _database = cast("SqliteDatabase", proxy)  # it forwards every call to the open one
                if TYPE_CHECKING:  # the type checker proves Peewee's database is a StoreDatabase
                    _typed: StoreDatabase = _database
                globals()["database"] = _database  # later lookups are a plain attribute
    return _database


def _sqlite_db() -> SqliteDatabase:
    _db()
    assert _sqlite is not None
    return _sqlite


#: The PostgreSQL database while server books are open (None on SQLite), see store/pg.py.
_server: Any = None


def on_server() -> bool:
    """Whether the open books are on a PostgreSQL server."""
    return _server is not None and _reader is None


def _point_at(target: Any) -> None:
    proxy: Any = _db()
    proxy.initialize(target)


def __getattr__(name: str) -> Any:
    if name == "database":  # `from .db import database` (the models, the operations...)
        return _db()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The report connection, when :func:`open_reader` opened the books instead of Peewee.
_reader: sqlite3.Connection | None = None


def sql(query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
    """Run one read statement on the open books: the report connection, else the store's.

    ``params``: positional (``?``), or a mapping for named (``:name``) placeholders."""
    if _reader is not None:
        return _reader.execute(query, params)
    cursor: sqlite3.Cursor = _db().execute_sql(query, params)  # type: ignore[no-untyped-call]  # Peewee has no types
    return cursor

ENV_VAR = "TUI_BILLING_DB"


def default_db_path() -> Path:
    """The user data directory location (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tui-billing" / "billing.db"


def server_files_stem(url: str) -> Path:
    """Where files that belong to server books live on this machine (the demo's samples, the claims
    screen's batches): named after the database, in the folder of the default SQLite books (there is
    no file to put them beside). ``<stem>.claims`` and ``<stem>.era`` are the folders."""
    import re
    from urllib.parse import urlsplit

    name = re.sub(r"[^A-Za-z0-9_.-]", "_", urlsplit(url).path.strip("/")).lstrip(".") or "books"
    return default_db_path().parent / name


def resolve_db_path(given: str | os.PathLike[str] | None = None) -> Path:
    """``--db`` wins, then ``TUI_BILLING_DB``, then the user data directory.

    A ``sqlite:///path`` URL is accepted so a later server backend can use the same option.
    """
    raw = os.fspath(given) if given else os.environ.get(ENV_VAR) or ""
    if not raw:
        return default_db_path()
    if raw.startswith("sqlite:///"):
        raw = raw[len("sqlite:///") - 1 :] if raw.startswith("sqlite:////") else raw[len("sqlite:///") :]
    elif raw.startswith(("postgresql://", "postgres://")):
        raise DatabaseFileError("these books are on a PostgreSQL server: this command works on a SQLite file "
                                "(a server's books are backed up and restored with pg_dump and pg_restore)")
    elif "://" in raw:
        scheme = raw.split("://", 1)[0]
        raise DatabaseFileError(f"{scheme}:// databases are not supported yet: use a file path or sqlite:///path")
    return Path(raw).expanduser()


def _creation_mode(directory: Path) -> int:
    """0600 normally; 0660 in a setgid directory (a shared office install group): the one rule
    for every file with patient data, kept in tui_billing.files."""
    from ..files import creation_mode

    return creation_mode(directory)


def ensure_file(path: Path) -> bool:
    """Create the database file with safe permissions if missing. Returns True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _creation_mode(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we chose
    finally:
        os.close(fd)
    return True


def check_permissions(path: Path) -> None:
    """Refuse a world-accessible database: patient data must not be readable by everyone."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise DatabaseFileError(
            f"{path} can be read by every user on this machine ({stat.filemode(mode)}); "
            f"patient data must not be. Fix it with: chmod o-rwx {path}"
        )


def check_sqlite_header(path: Path) -> None:
    """A non-empty file that is not SQLite gets a clear message instead of a driver error.

    Asked of SQLite first, never read with a descriptor of our own while SQLite can read it:
    closing ANY descriptor of a database file drops every POSIX lock this process's connections
    hold on it (SQLite's "How To Corrupt An SQLite Database File", 2.2). Books opened again in a
    process that had them open (a report run in-process, a second open) lost their locks that way;
    the next process to close the books then took itself for the last one, checkpointed and
    deleted the -wal under them: "disk I/O error", "database disk image is malformed".
    """
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0)
        try:
            con.execute("PRAGMA schema_version").fetchone()  # reads the header through SQLite's own file
            return
        finally:
            con.close()  # SQLite keeps its descriptor open while another connection here holds locks
    except sqlite3.DatabaseError as exc:
        if _is_busy(exc):
            return  # another process's lock: the open waits for it and explains
    _refuse_unless_sqlite_header(path)  # SQLite could not read it: say which kind of file it is


def _refuse_unless_sqlite_header(path: Path) -> None:
    """Read the header's first bytes directly: only for a file SQLite could not read (then no
    connection of this process holds locks on it that closing our descriptor would drop)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise DatabaseFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head and head != b"SQLite format 3\x00":
        raise DatabaseFileError(f"{path} is not a tui-billing database (not an SQLite file)")


def _explain_permission_denied(open_fn: Callable[..., Path]) -> Callable[..., Path]:
    """A folder on the way that is closed to this clerk gets one clear line, not a traceback.

    (``Path.exists()`` and ``is_dir()`` raise PermissionError when a parent directory cannot be
    searched: a clerk outside the office's billing group.)
    """

    @functools.wraps(open_fn)
    def wrapper(given: str | os.PathLike[str] | None = None, **kwargs: Any) -> Path:
        try:
            return open_fn(given, **kwargs)
        except PermissionError as exc:
            path = resolve_db_path(given)
            raise DatabaseFileError(
                f"cannot reach {path}: permission denied on {exc.filename or path.parent}; ask the office "
                f"admin to add your user to the group that owns it"
            ) from exc

    return wrapper


@_explain_permission_denied
def open_database(given: str | os.PathLike[str] | None = None, *, create: bool = True, migrate: bool = True) -> Path:
    """Point :data:`database` at a file, create it 0600 if asked, and bring its schema up to date.

    Raises :class:`DatabaseFileError` with a message that says what to do.
    """
    from peewee import DatabaseError as PeeweeDatabaseError
    from peewee import OperationalError

    from .migrations import migrate as run_migrations

    close_reader()
    if _server_url(given):
        return _open_server(_server_url(given), migrate=migrate)
    _close_server()
    created = create and not resolve_db_path(given).exists()
    path = _checked_path(given, create=create)
    database = _sqlite_db()
    if not database.is_closed():
        database.close()
    database.init(str(path), pragmas=PRAGMAS, timeout=BUSY_TIMEOUT_MS / 1000)  # type: ignore[arg-type]  # seconds
    try:
        database.connect(reuse_if_open=True)
        if migrate:
            run_migrations(database)
    except OperationalError as exc:
        database.close()
        _forget_if_created(path, created)
        raise _file_error(path, exc) from exc
    # e.g. "file is not a database", "disk image is malformed": Peewee wraps sqlite3's error in
    # its own DatabaseError, which is not a sqlite3.DatabaseError, so catch both.
    except (sqlite3.DatabaseError, PeeweeDatabaseError) as exc:
        database.close()
        _forget_if_created(path, created)
        raise DatabaseFileError(f"{path} is damaged or not a database ({exc}); restore the last backup") from exc
    except BaseException:
        database.close()
        raise
    from . import identity  # whether these books honour the test hooks (a test's or the demo's)

    identity.books_opened(database.execute_sql, fresh_marker=lambda: identity.mark_test_book("made by a test"))
    return path


def _forget_if_created(path: Path, created: bool) -> None:
    """A database this very call created (O_EXCL) and could not set up (a full disk) is not left
    behind half-made: nothing was saved in it."""
    if not created:
        return
    for leftover in (f"{path}-wal", f"{path}-shm", f"{path}-journal", str(path)):
        with contextlib.suppress(OSError):
            os.unlink(leftover)


def _checked_path(given: str | os.PathLike[str] | None, *, create: bool, peek: bool = True) -> Path:
    """The database path after every check that needs no connection (created 0600 if asked);
    ``peek``: also check the header and refuse a foreign or newer schema, read on a separate
    read-only connection (without: the caller's own connection reads them)."""
    path = resolve_db_path(given)
    if path.is_dir():
        raise DatabaseFileError(f"{path} is a directory: give the database file's path, e.g. {path / 'billing.db'}")
    if not path.exists():
        if not create:
            raise DatabaseFileError(f"no database at {path}: create one with `tui-billing init --db {path}`")
        try:
            ensure_file(path)
        except OSError as exc:  # e.g. a parent is a file, or the directory is not writable
            raise DatabaseFileError(f"cannot create {path}: {exc.strerror or exc}") from exc
    check_permissions(path)
    if peek:
        check_sqlite_header(path)
        refuse_foreign_or_newer(path)
    return path


@_explain_permission_denied
def open_reader(given: str | os.PathLike[str] | None = None) -> Path:
    """Open the books for reading only, on a plain sqlite3 connection that :func:`sql` uses.

    The same refusals as :func:`open_database` (missing, world-readable, foreign, newer). A
    file whose schema is older needs the upgrade, which is a write: it goes through
    :func:`open_database` and the report reads through Peewee instead.
    """
    from .migrations import SCHEMA_VERSION

    global _reader
    close_reader()
    if _server_url(given):  # a server's books are read on their own connection
        return open_database(given, create=False)
    _close_server()
    # the schema version is read on this connection below: anything but the current one goes
    # through open_database, which refuses a foreign or newer file and upgrades an older one
    path = _checked_path(given, create=False, peek=False)
    try:
        # mode=rw: never create a file here (the checks above found one)
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                              isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _file_error(path, exc) from exc
    try:
        # SQLite's default page cache, not the store's 32 MB: a report reads each page about once,
        # and a big cache only costs a short process fresh memory for every page (~6 ms a day sheet)
        for name in ("busy_timeout", "temp_store"):
            con.execute(f"PRAGMA {name} = {PRAGMAS[name]}")
        current = con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    except sqlite3.OperationalError as exc:
        con.close()
        raise _file_error(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        con.close()
        _refuse_unless_sqlite_header(path)  # not SQLite at all says so; else it is damaged
        raise DatabaseFileError(f"{path} is damaged or not a database ({exc}); restore the last backup") from exc
    if not current:
        con.close()
        return open_database(path, create=False)
    _reader = con
    from . import identity

    identity.books_opened(con.execute)
    return path


def close_reader() -> None:
    global _reader
    if _reader is not None:
        _reader.close()
        _reader = None


def refuse_foreign_or_newer(path: Path) -> None:
    """Refuse another program's SQLite file, or a newer schema, before anything writes to it.

    Opening with our pragmas would switch the file to WAL (a write) before the migration step
    could refuse it, so peek read-only first. Anything odd here (damage, a lock, a WAL file we
    cannot read read-only) is left for the normal open path to explain.
    """
    from .migrations import schema_refusal

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0)  # locked: no wait here
    except sqlite3.Error:
        return
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error:
        return
    finally:
        con.close()
    refusal = schema_refusal(version, bool(tables))
    if refusal:
        raise DatabaseFileError(refusal)


def _file_error(path: Path, exc: Exception) -> DatabaseFileError:
    """The one-line error for an open that failed; a full disk is a :class:`DiskFullDatabaseError`."""
    from ..files import is_disk_full

    message = _explain_operational(path, exc)
    return DiskFullDatabaseError(message) if is_disk_full(exc, path) else DatabaseFileError(message)


def _disk_full_database_error() -> type[DatabaseFileError]:
    from ..files import DiskFullError

    class DiskFullDatabaseError(DatabaseFileError, DiskFullError):
        """The disk holding the books is full: the open (its upgrade, its WAL) could not write."""

    return DiskFullDatabaseError


DiskFullDatabaseError = _disk_full_database_error()


def _explain_operational(path: Path, exc: Exception) -> str:
    text = str(exc)
    from ..files import disk_full_message, is_disk_full

    if is_disk_full(exc, path):
        return disk_full_message(path, exc)
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only for you: ask the office admin to give your user write access (group billing, mode 0660)"
    if "locked" in text or "busy" in text:
        return f"{path} is locked by another process for longer than {BUSY_TIMEOUT_MS // 1000} s; try again in a moment"
    if "unable to open" in text:
        return f"cannot open {path}: check that its directory exists and is writable by you"
    return f"cannot use {path}: {text}"


def close_database() -> None:
    from . import identity

    identity.books_closed()
    close_reader()
    _close_server()
    if _sqlite is not None and not _sqlite.is_closed():
        _sqlite.close()


def _server_url(given: str | os.PathLike[str] | None) -> str:
    """The PostgreSQL URL that ``--db`` or ``TUI_BILLING_DB`` names, else ''."""
    raw = os.fspath(given) if given else os.environ.get(ENV_VAR) or ""
    return raw if raw.startswith(("postgresql://", "postgres://")) else ""  # (store/pg.py loads Peewee: not here)


def _open_server(url: str, *, migrate: bool) -> Path:
    """Open PostgreSQL books (their schema is made by `tui-billing pg setup`; an older one is upgraded
    when this login may, i.e. is the owner)."""
    global _server
    from . import identity, pg, pg_admin
    from .migrations import SCHEMA_VERSION

    _close_server()
    try:
        server = pg.open_url(url, BUSY_TIMEOUT_MS)
    except Exception as exc:  # the driver's message says why (no server, no such role, refused)
        raise DatabaseFileError(f"cannot open the books at {url}: {str(exc).strip()}") from exc
    version = pg_admin.schema_version(server.connection())  # type: ignore[no-untyped-call]
    if version is None:
        server.close()
        raise DatabaseFileError(f"{url} holds no tui-billing books: create them with `tui-billing pg setup --db {url}`")
    if version != SCHEMA_VERSION:
        server.close()
        if version < SCHEMA_VERSION and migrate:
            raise DatabaseFileError(f"the books at {url} are at schema {version}; this program needs {SCHEMA_VERSION}: "
                                    f"the owner upgrades them with `tui-billing pg setup --db {url}`")
        raise DatabaseFileError(f"the books at {url} were made by a newer tui-billing (schema {version}; this "
                                f"program knows up to {SCHEMA_VERSION}): upgrade tui-billing before opening them")
    _server = server
    _point_at(server)
    execute = cast("Execute", server.execute_sql)  # its cursor has what identity reads of sqlite3's
    login = str(server.execute_sql("SELECT session_user").fetchone()[0])
    identity.books_opened(execute, fresh_marker=lambda: identity.mark_test_book("made by a test"), login=login)
    return Path(url)


def executemany(statement: str, rows: Sequence[Sequence[Any]]) -> None:
    """One statement for many rows, in the caller's transaction, on whichever books are open."""
    if _server is not None:
        from .pg_dialect import translate

        with _server.cursor() as cursor:
            cursor.executemany(translate(statement).sql, rows)
        return
    _sqlite_db().connection().executemany(statement, rows)  # type: ignore[no-untyped-call]  # Peewee has no types


def _close_server() -> None:
    global _server
    if _server is not None:
        server, _server = _server, None
        _point_at(_sqlite_db())
        if not server.is_closed():
            server.close()


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "lock timeout" in text  # the last: PostgreSQL's lock_timeout


class _ReadDepth(threading.local):
    depth = 0


_reading = _ReadDepth()


@contextlib.contextmanager
def read_snapshot() -> Iterator[None]:
    """Every query inside sees one committed state of the books: a deferred read transaction.

    A report runs many queries (a day sheet: the entries, then the totals and the proof); a
    clerk posting in between must not make the printed entries disagree with the printed totals.
    In WAL mode readers never block the writer, so this costs the other clerks nothing.
    """
    if _reader is not None:
        begin = not _reader.in_transaction  # else already inside one: it is the snapshot
    else:
        database = _db()
        begin = not database.in_transaction()
    if not begin:
        yield
        return
    _reading.depth += 1
    try:
        if _reader is not None:
            _reader.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                _reader.execute("COMMIT")  # nothing was written: this only ends the snapshot
        else:
            with database.transaction(lock_type="DEFERRED"):
                yield
    finally:
        _reading.depth -= 1


def _refuse_disk_full(exc: BaseException) -> None:
    """A write that found no room on the disk (SQLite rolled it back): one line naming the disk."""
    from ..files import DiskFullError, disk_full_message, is_disk_full

    target = Path(_db().database or Path.cwd())
    if is_disk_full(exc, target):
        raise DiskFullError(disk_full_message(target, exc)) from exc


#: Told, from the writing thread, each time a write found the books busy and will try again,
#: with the seconds waited so far. The TUI shows it (a save can wait ~40 s behind another
#: clerk's long job); a headless command sets none. See :func:`on_busy_wait`.
_busy_listener: Callable[[float], None] | None = None


def on_busy_wait(listener: Callable[[float], None] | None) -> None:
    """Set (or with None clear) who hears that a write is waiting for another writer's lock."""
    global _busy_listener
    _busy_listener = listener


def write(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn`` as one BEGIN IMMEDIATE transaction, retried whole on a busy database.

    Nested calls join the outer transaction (the outer one owns the retry). Anything ``fn``
    raises rolls the whole unit back, so a refused operation leaves the database unchanged.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        if _reading.depth:
            # a write cannot join a read snapshot: its older view could not take the write lock
            raise RuntimeError(f"{fn.__name__} writes, inside read_snapshot()")
        from peewee import OperationalError, ProgrammingError

        database = _db()
        if database.in_transaction():
            return fn(*args, **kwargs)
        delay = 0.02
        started = time.monotonic()
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with database.atomic():
                    if _server is not None:  # the books' write lock (SQLite's BEGIN IMMEDIATE took it)
                        from .pg import begin_write

                        begin_write(_server)
                    return fn(*args, **kwargs)
            except BillingError as exc:
                # e.g. a role refusal, audited in its own transaction now that this one is undone
                follow = getattr(exc, "after_rollback", None)
                if follow is not None:
                    follow()
                raise
            except ProgrammingError as exc:
                if _server is not None and "permission denied" in str(exc):
                    # the server's roles (store/pg_admin.py) said no: one line, as the app's own refusals
                    raise BillingError(f"the database refused it: your login may not do this ({str(exc).strip()}); "
                                       "ask the office admin for a login of the right role (tui-billing pg login)"
                                       ) from exc
                raise
            except OperationalError as exc:
                _refuse_disk_full(exc)
                if not _is_busy(exc) or attempt == WRITE_ATTEMPTS:
                    if _is_busy(exc):
                        # the advice first: a screen's status line may keep only its start
                        raise BillingError(
                            f"another clerk's long job held the books for {time.monotonic() - started:.0f} s; "
                            "try again (nothing was saved)"
                        ) from exc
                    raise
                import random  # only a busy writer backs off (and a report never loads it)

                listener = _busy_listener
                if listener is not None:
                    with contextlib.suppress(Exception):  # a listener's trouble must not lose the save
                        listener(time.monotonic() - started)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    return wrapper
