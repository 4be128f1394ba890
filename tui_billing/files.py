"""Every file we write with patient data: private, and whole or absent.

Reports (``-o``), exports, the journal and backups all go through :func:`atomic_output`:

* the file is created 0600 whatever the umask (0660 in a setgid directory, the shared office
  install, as the database itself is);
* it is written to a temporary file in the same directory, synced, and only then renamed to its
  final name, so a killed process or a full disk never leaves a torn file under that name (a
  ``.NAME.*.part`` temporary may be left by a SIGKILL; it is never the file asked for);
* a full disk (ENOSPC, EDQUOT, EFBIG) becomes one :class:`DiskFullError` line that says which
  disk and that nothing was saved.

No SQL here and no Textual: the store, the reports and the CLI all use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .store.errors import BillingError

__all__ = ["DiskFullError", "atomic_output", "atomic_path", "creation_mode", "disk_full_message", "fsync_directory",
           "is_disk_full", "mount_point", "write_atomic"]

#: errno values that mean "no room": the filesystem, the user's quota, or the process's file size limit.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class DiskFullError(BillingError):
    """The disk (or quota, or file size limit) ran out while writing; nothing was saved."""


def creation_mode(directory: Path) -> int:
    """0600 normally; 0660 in a setgid directory (a shared office install group)."""
    try:
        if directory.stat().st_mode & stat.S_ISGID:
            return 0o660
    except OSError:
        pass
    return 0o600


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding ``path`` (what a clerk calls "the disk")."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it wraps: a driver error re-raised by Peewee, or one masked by the failed
    rollback that followed it ("cannot rollback - no transaction is active")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or inner or exc.__context__


def is_disk_full(exc: BaseException, path: str | os.PathLike[str] | None = None) -> bool:
    """True for an OSError that means no room, or SQLite's "database or disk is full", anywhere
    in ``exc``'s chain. With ``path``: also SQLite's bare "disk I/O error" (its -shm or -wal could
    not grow) when the disk holding ``path`` has next to nothing left."""
    for err in _chain(exc):
        if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
            return True
        if getattr(err, "sqlite_errorname", "") == "SQLITE_FULL":
            return True
        text = str(err).lower()
        if "database or disk is full" in text or "file too large" in text or "no space left" in text:
            return True
        if path is not None and (getattr(err, "sqlite_errorname", "").startswith("SQLITE_IOERR")
                                 or "disk i/o error" in text):
            try:
                free = os.statvfs(mount_point(Path(path)))
            except OSError:
                continue
            if free.f_bavail * free.f_frsize < 1 << 20:  # under 1 MiB left: that is why it failed
                return True
    return False


def disk_full_message(path: Path, exc: BaseException | None = None) -> str:
    """One line: which disk is full, for which file, and that nothing was saved."""
    path = Path(path)
    why = "the file size limit was reached" if isinstance(exc, OSError) and exc.errno == errno.EFBIG else "it is full"
    try:
        free = os.statvfs(mount_point(path))
        left = f" ({free.f_bavail * free.f_frsize // 1024} KiB free)"
    except OSError:
        left = ""
    return (f"no room to write {path}: the disk at {mount_point(path)}{left} cannot take it ({why}); "
            f"nothing was saved. Free some space and run it again")


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a power cut must not undo it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; the rename itself was atomic
    finally:
        os.close(fd)


def _refusal(path: Path, exc: OSError, verb: str = "write") -> BillingError:
    if is_disk_full(exc):
        return DiskFullError(disk_full_message(path, exc))
    return BillingError(f"cannot {verb} {path}: {exc.strerror or exc}; nothing was saved")


def temporary_path(path: Path) -> Path:
    """A fresh hidden name beside ``path`` (same directory, so the final rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.part")


def _create_temporary(path: Path) -> tuple[Path, int, int]:
    """A new temporary file beside ``path``, created with the mode ``path`` will have: (its path, fd, mode)."""
    mode = creation_mode(path.parent)
    temp = temporary_path(path)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        raise _refusal(path, exc, "create") from exc
    return temp, fd, mode


def _special(path: Path) -> bool:
    """An existing FIFO, device or socket (``-o /dev/stdout``, a pipe): written in place, never
    replaced by a rename (which would swap /dev/null for a regular file)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, binary: bool = False, replace: bool = True,
                  encoding: str = "utf-8", newline: str | None = "") -> Iterator[IO]:
    """A file object whose text appears at ``path`` only once it is all written and synced.

    ``replace=False`` refuses an existing ``path`` (checked again at the rename, so two writers
    never overwrite each other). Raises :class:`BillingError` (:class:`DiskFullError` for a full
    disk) with nothing left under ``path``; whatever the body raises also discards the file.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise BillingError(f"{path} is a directory: give a file name")
    if not replace and path.exists():
        raise BillingError(f"{path} already exists: choose another name or pass --force")
    if _special(path):
        with _open_special(path, binary, encoding, newline) as fh:
            yield fh
        return
    directory = path.parent
    temp, fd, mode = _create_temporary(path)
    done = False
    try:
        os.fchmod(fd, mode)  # the umask must neither widen nor narrow what we chose
        fh = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _publish(temp, path, replace)
        done = True
    except OSError as exc:
        raise _refusal(path, exc) from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    fsync_directory(directory)


@contextlib.contextmanager
def _open_special(path: Path, binary: bool, encoding: str, newline: str | None) -> Iterator[IO]:
    try:
        fh: IO[Any] = open(path, "wb") if binary else open(path, "w", encoding=encoding, newline=newline)
    except OSError as exc:
        raise _refusal(path, exc) from exc
    try:
        with fh:
            yield fh
    except OSError as exc:
        raise _refusal(path, exc) from exc


def _publish(temp: Path, path: Path, replace: bool) -> None:
    """Rename the finished temporary file to its final name (never over one, if not ``replace``)."""
    if replace:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails if path appeared meanwhile: no silent overwrite
    except FileExistsError:
        raise BillingError(f"{path} already exists: choose another name or pass --force") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if path.exists():  # a filesystem without hard links: the best check it allows
            raise BillingError(f"{path} already exists: choose another name or pass --force") from None
        os.replace(temp, path)
        return
    os.unlink(temp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, replace: bool = True) -> Iterator[Path]:
    """Like :func:`atomic_output` for a writer that needs a path (SQLite's backup): yields an
    empty private temporary file beside ``path``; when the body returns it is synced and renamed
    to ``path``. Anything raised discards it. OSErrors become one-line :class:`BillingError`s."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise BillingError(f"{path} is a directory: give a file name")
    if not replace and path.exists():
        raise BillingError(f"{path} already exists: choose another name or pass --force")
    directory = path.parent
    temp, fd, mode = _create_temporary(path)
    done = False
    try:
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _publish(temp, path, replace)
        done = True
    except OSError as exc:
        raise _refusal(path, exc) from exc
    finally:
        if not done:
            for leftover in (temp, Path(f"{temp}-journal"), Path(f"{temp}-wal"), Path(f"{temp}-shm")):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
    fsync_directory(directory)


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` with :func:`atomic_output`."""
    with atomic_output(path) as fh:
        fh.write(text)
