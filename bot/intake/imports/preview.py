"""What an import would do, counted before anything is written: the columns as recognised,
how many rows would make leads, how many are people we know (the policy's choice), how many
were imported before, how many cannot be read (a few of them with the reason), and the owners
and statuses nobody recognised. The whole file is read, a batch of rows at a time (one query
each for keys and people), so the numbers are exact and the bot answers others meanwhile."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.intake.imports.columns import ColumnMap, map_columns
from bot.intake.imports.matching import Matcher, Verdict
from bot.intake.imports.owners import load_staffing
from bot.intake.imports.reading import open_table
from bot.intake.imports.rows import ImportRow, Rejection, RowReader

BATCH = 500  # rows read, matched (and, when applying, written and committed) at a time
# rows read between two chances for the bot to answer others (an XLSX row costs ~0.5 ms)
YIELD_EVERY = 50
SAMPLES = 3  # rejected rows shown with their reason
NOTED = 3  # unknown owners and statuses shown (the most frequent)
_TALLY_LIMIT = 1000  # distinct names counted: a file of 50,000 different ones stays small


@dataclass
class Preview:
    file_name: str
    kind: str  # csv or xlsx
    encoding: str | None
    delimiter: str | None
    columns: ColumnMap
    rows: int = 0
    new: int = 0
    duplicates: int = 0
    already: int = 0
    rejected: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # converted/refused/junk -> rows
    samples: list[Rejection] = field(default_factory=list)
    unknown_owners: Counter[str] = field(default_factory=Counter)
    unknown_statuses: Counter[str] = field(default_factory=Counter)

    @property
    def importable(self) -> int:
        """Rows something may be done with (new ones, and people we know)."""
        return self.new + self.duplicates

    def noted_owners(self) -> list[tuple[str, int]]:
        return self.unknown_owners.most_common(NOTED)

    def noted_statuses(self) -> list[tuple[str, int]]:
        return self.unknown_statuses.most_common(NOTED)


def _tally(counter: Counter[str], key: str | None) -> None:
    if key and (key in counter or len(counter) < _TALLY_LIMIT):
        counter[key] += 1


async def preview_import(
    session: AsyncSession, path: Path, file_name: str, config: AppConfig, now: datetime
) -> Preview:
    """Read the file at `path` through and say what importing it would do (UnreadableFile
    when it is not a table). Reads only."""
    staffing = await load_staffing(session)
    with open_table(path) as table:
        columns = map_columns(table.headers)
        preview = Preview(file_name, table.kind, table.encoding, table.delimiter, columns)
        reader = RowReader(columns, config, staffing, now)
        matcher = Matcher()
        batch: list[ImportRow] = []
        for read, (number, cells) in enumerate(table.rows, start=1):
            if read % YIELD_EVERY == 0:  # reading is CPU: let the others in meanwhile
                await asyncio.sleep(0)
            preview.rows += 1
            row = reader.read(number, cells)
            if isinstance(row, Rejection):
                preview.rejected += 1
                if len(preview.samples) < SAMPLES:
                    preview.samples.append(row)
                continue
            batch.append(row)
            if len(batch) >= BATCH:
                await _count(session, matcher, batch, preview)
                batch = []
        await _count(session, matcher, batch, preview)
    return preview


async def _count(
    session: AsyncSession, matcher: Matcher, batch: list[ImportRow], preview: Preview
) -> None:
    if not batch:
        return
    for item in await matcher.match(session, batch):
        if item.verdict is Verdict.ALREADY:
            preview.already += 1
            continue
        if item.verdict is Verdict.DUPLICATE:
            preview.duplicates += 1
        else:
            preview.new += 1
        row = item.row
        if row.closed is not None:
            preview.closed[row.closed.value] += 1
        if row.owner is None:
            _tally(preview.unknown_owners, row.owner_text)
        if not row.status_known:
            _tally(preview.unknown_statuses, row.status_text)
