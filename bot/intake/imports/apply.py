"""Applying an import once it is confirmed: the file read again, a batch of rows at a time,
each batch matched and written in one transaction of its own and committed, so a file of
50,000 rows neither holds a transaction (and SQLite's write lock) for minutes nor keeps the
bot from answering: between batches every other update, press and intake goes ahead.

Each batch first takes the import lock (an advisory lock on PostgreSQL, the write lock on
SQLite) and only then reads which keys are imported and who is known: two imports of one file
at once (two presses, two instances) are applied batch after batch, and the second finds the
first one's rows already there. A batch that fails leaves nothing of itself: the rows before
it stay imported, and sending the file again imports the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intake.imports.columns import map_columns
from bot.intake.imports.matching import Matcher
from bot.intake.imports.owners import load_staffing
from bot.intake.imports.preview import BATCH, YIELD_EVERY
from bot.intake.imports.reading import open_table
from bot.intake.imports.rejected import RejectedRows
from bot.intake.imports.rows import ImportRow, Rejection, RowReader
from bot.intake.imports.store import Counts, ImportRun, write_batch
from storage.db import SessionFactory
from storage.models import LeadEvent

# PostgreSQL advisory lock id of imports' batches (any constant shared by all instances)
IMPORT_LOCK = 0x6C69_6D70_6F72_74  # "limport"

Progress = Callable[[Counts], Awaitable[None]]


async def apply_import(
    sessions: SessionFactory,
    path: Path,
    run: ImportRun,
    rejected_path: Path,
    locale: str,
    progress: Progress | None = None,
) -> Counts:
    """Import the file at `path` as `run` says; the rejected rows (with the reason in
    `locale`) go to `rejected_path`. `progress` hears the counts after every batch."""
    async with sessions() as session:
        staffing = await load_staffing(session)
    counts = Counts()
    matcher = Matcher()
    with open_table(path) as table:
        columns = map_columns(table.headers)
        reader = RowReader(columns, run.config, staffing, run.now)
        with RejectedRows(rejected_path, columns, locale) as rejected:
            batch: list[ImportRow] = []
            for read, (number, cells) in enumerate(table.rows, start=1):
                if read % YIELD_EVERY == 0:  # reading is CPU: let the others in meanwhile
                    await asyncio.sleep(0)
                row = reader.read(number, cells)
                if isinstance(row, Rejection):
                    rejected.add(row)
                    counts.rejected += 1
                    continue
                batch.append(row)
                if len(batch) >= BATCH:
                    counts.add(await _apply_batch(sessions, matcher, batch, run))
                    batch = []
                    if progress is not None:
                        await progress(counts)
            counts.add(await _apply_batch(sessions, matcher, batch, run))
    if progress is not None:
        await progress(counts)
    return counts


async def _apply_batch(
    sessions: SessionFactory, matcher: Matcher, batch: list[ImportRow], run: ImportRun
) -> Counts:
    if not batch:
        return Counts()
    async with sessions() as session:
        await _hold_import_lock(session)
        matched = await matcher.match(session, batch)
        counts = await write_batch(session, matched, run)
        await session.commit()
    return counts


async def _hold_import_lock(session: AsyncSession) -> None:
    """Until the transaction ends, no other import's batch runs, in any instance."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK)))
    else:  # SQLite: take the database's write lock now (as BEGIN IMMEDIATE would)
        await session.execute(
            update(LeadEvent)
            .where(false())
            .values(imported=LeadEvent.imported)
            .execution_options(synchronize_session=False)
        )
