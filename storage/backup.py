"""`leadbot backup FILE`: a consistent copy of the SQLite database, taken while the bot runs.

SQLite's online backup API copies the pages under one read transaction, so the copy is the
database as of one moment, whatever the bot commits meanwhile (in WAL mode the bot's writes do
not wait for it). The copy is written beside the target, checked, switched from WAL to a plain
rollback journal (one self-contained file), then renamed into place: a failed backup never
leaves a half-written FILE. Blocking (the standard library's sqlite3): the command line's, never
the running bot's.

PostgreSQL has its own tool for this: pg_dump (`postgres_dump_hint`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, make_url

from storage.db import is_sqlite

BUSY_TIMEOUT_MS = 10_000  # the bot may be committing: wait for its write lock, as it does


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes
    leads: int
    revision: str | None  # the schema's migration


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database (or SQLite in memory)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def backup_sqlite(source: Path, target: Path) -> Backup:
    """Copy `source` to `target` (which must not exist yet), consistently, while it is used."""
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    if target.exists():
        raise FileExistsError(f"{target} exists already: choose a new file name")
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one moment
            dst.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise RuntimeError(f"the copy failed its integrity check: {verdict}")
            (leads,) = dst.execute("SELECT count(*) FROM leads").fetchone()
            revision = dst.execute("SELECT max(version_num) FROM alembic_version").fetchone()[0]
        finally:
            dst.close()
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        src.close()
    os.replace(partial, target)
    return Backup(target, target.stat().st_size, leads, revision)


def postgres_dump_hint(url: str) -> str:
    """What to run instead on PostgreSQL (the password left out: pg_dump asks, or reads
    PGPASSWORD / ~/.pgpass)."""
    given = make_url(url)
    address = URL.create(
        "postgresql", given.username, None, given.host, given.port, given.database
    ).render_as_string(hide_password=False)
    return (
        "leadbot backup copies a SQLite database; on PostgreSQL use pg_dump, e.g.\n"
        f"  pg_dump --format=custom --file=leadbot.dump '{address}'\n"
        "and restore with pg_restore --clean --dbname=<url> leadbot.dump"
    )
