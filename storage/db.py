"""Engine and sessions: SQLite (WAL) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while a writer commits; NORMAL sync is durable across process crashes
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # SQLite's own lower() knows only ASCII; searching "анна" must find "Анна" as on PostgreSQL
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


_OUTBOX_WRITTEN = "outbox_written"


def note_outbox_written(session: AsyncSession) -> None:
    """Mark the transaction as one that wrote outbox rows: its commit wakes the notifier."""
    session.info[_OUTBOX_WRITTEN] = True


def session_factory(
    engine: AsyncEngine, on_outbox_commit: Callable[[], None] | None = None
) -> SessionFactory:
    """Sessions for one application; `on_outbox_commit` runs after every commit that wrote
    outbox rows (see `note_outbox_written`), so the notifier wakes as soon as they are durable."""
    session_class = type("LeadbotSession", (Session,), {})
    if on_outbox_commit is not None:

        @event.listens_for(session_class, "after_commit")
        def _wake(session: Session) -> None:
            if session.info.pop(_OUTBOX_WRITTEN, False):
                on_outbox_commit()

        @event.listens_for(session_class, "after_rollback")
        def _forget(session: Session) -> None:
            session.info.pop(_OUTBOX_WRITTEN, None)

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)
