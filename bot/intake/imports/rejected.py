"""Why a row was not imported, in words, and the file of such rows: the row as it was read,
its number in the file and the reason, written as they come (never held in memory), as a CSV
that Excel opens by double-click (UTF-8 with a BOM, `;`). The person fixes those rows and
sends the file again: the rows imported the first time are not imported twice."""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType

from bot.common.render import labels
from bot.intake.imports.columns import ColumnMap
from bot.intake.imports.rows import Rejection


def describe(rejection: Rejection, locale: str) -> str:
    """ "Unreadable date in “Closed”: 32.13.2026" in `locale`."""
    words = labels(locale)["imports"]
    problem = str(words["problems"][rejection.problem])
    text = problem.format(column=rejection.column or rejection.field or "")
    return f"{text}: {rejection.text}" if rejection.text else text


class RejectedRows:
    """The rejected rows of one import, written to `path` as they come."""

    def __init__(self, path: Path, columns: ColumnMap, locale: str) -> None:
        self.path = path
        self.columns = columns
        self.locale = locale
        self.count = 0
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file, delimiter=";", lineterminator="\r\n")
        words = labels(locale)["imports"]
        self._writer.writerow([words["row_column"], words["reason_column"], *columns.headers])

    def add(self, rejection: Rejection) -> None:
        self.count += 1
        reason = describe(rejection, self.locale)
        self._writer.writerow([rejection.number, reason, *rejection.cells])

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RejectedRows:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
