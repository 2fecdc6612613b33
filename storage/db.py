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

from storage.models import OutboxMessage

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while a writer commits; NORMAL sync is durable across process crashes
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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


def session_factory(
    engine: AsyncEngine, on_outbox_commit: Callable[[], None] | None = None
) -> SessionFactory:
    """Sessions for one application; `on_outbox_commit` runs after every commit that wrote
    outbox rows, so the notifier is woken by the data itself and no caller can forget it."""
    session_class = type("LeadbotSession", (Session,), {})
    if on_outbox_commit is not None:

        @event.listens_for(session_class, "before_flush")
        def _note_outbox(session: Session, _context: Any, _instances: Any) -> None:
            if any(isinstance(obj, OutboxMessage) for obj in session.new):
                session.info["outbox_written"] = True

        @event.listens_for(session_class, "after_commit")
        def _wake(session: Session) -> None:
            if session.info.pop("outbox_written", False):
                on_outbox_commit()

        @event.listens_for(session_class, "after_rollback")
        def _forget(session: Session) -> None:
            session.info.pop("outbox_written", None)

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)
