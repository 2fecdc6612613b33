"""One row of a file read into a lead-to-be (ImportRow), or rejected with the reason
(Rejection). Pure: the staff, the reasons and the clock are given.

What a row must hold is what intake asks of a form: a phone, an e-mail or a message (a
comment, or the lead's title). A phone or e-mail that is there but unreadable, a date or an
amount that cannot be read, a lead created in the future or closed before it was created:
the row is rejected, so the person can fix it and send it again, rather than imported half.

Each row has a key: a file from a system we know (leadbot, Bitrix24, amoCRM) that carries its
own ID gives "<system>:<id>"; any other row is known by its cells. The key's hash is recorded
with the imported row, and a row whose key was imported before is never imported again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from bot.common.render import labels
from bot.config import AppConfig
from bot.intake.imports import values
from bot.intake.imports.columns import ColumnMap
from bot.intake.imports.owners import Owner, Staffing
from bot.intake.imports.reading import Cell, UnreadableLine
from bot.intake.imports.values import BadValue, Status
from storage.models import LeadStatus

IMPORT_SOURCE = "import"  # a lead's source when the file names none
SOURCE_LIMIT = 64
KEYED_ORIGINS = ("leadbot", "bitrix24", "amocrm")  # their IDs name one lead for good
CLOCK_SKEW = timedelta(minutes=5)  # a "created" this far ahead of now is still now
# why a row is rejected (labels.toml [imports.problems] words each)
PROBLEMS = frozenset(
    {
        "unreadable_line",
        "bad_phone",
        "bad_email",
        "bad_date",
        "bad_amount",
        "no_contact",
        "future",
        "before_created",
    }
)
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "start")


@dataclass(frozen=True)
class Rejection:
    number: int  # the row's line (CSV) or row (XLSX) number in the file
    problem: str  # a key of labels' [imports.problems]
    field: str | None = None  # our field whose cell it was
    column: str | None = None  # that cell's header in the file
    text: str = ""  # what the cell said (cut)
    cells: tuple[str, ...] = ()  # the row as read, for the file of rejected rows


@dataclass(frozen=True)
class ImportRow:
    number: int
    key: str  # sha256 hex of the row's identity
    created_at: datetime
    closed: LeadStatus | None = None  # None: open
    status_text: str | None = None  # as the file wrote it
    status_known: bool = True
    owner: Owner | None = None
    owner_text: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    message: str | None = None
    title: str | None = None
    service: str | None = None
    source: str = IMPORT_SOURCE
    external_id: str | None = None
    closed_at: datetime | None = None
    taken_at: datetime | None = None
    contacted_at: datetime | None = None
    reason: str | None = None
    words: str | None = None
    amount: Decimal | None = None
    utm: dict[str, str] = field(default_factory=dict)

    def history(self) -> dict[str, Any]:
        """What the file said of the lead, as the `imported` event keeps it (JSON)."""
        data: dict[str, Any] = {
            "row": self.number,
            "status": self.status_text,
            "owner": self.owner_text,
            "external_id": self.external_id,
            "amount": None if self.amount is None else str(self.amount),
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "message": self.message,
            "title": self.title,
            "service": self.service,
            "source": self.source,
            "reason": self.reason,
            "words": self.words,
        }
        for name in ("created_at", "closed_at", "taken_at", "contacted_at"):
            moment = getattr(self, name)
            data[name] = None if moment is None else moment.isoformat()
        return {key: value for key, value in data.items() if value is not None}


class RowReader:
    """Reads a file's rows with one column map, the team's staff and reasons, at `now`."""

    def __init__(
        self, columns: ColumnMap, config: AppConfig, staffing: Staffing, now: datetime
    ) -> None:
        self.columns = columns
        self.region = config.phone_region
        self.zone: tzinfo = config.zone
        self.staffing = staffing
        self.now = now
        self.own_statuses = _own_statuses()
        self.reasons = _reasons(config)
        # leadbot's CSV export puts an apostrophe before a cell a spreadsheet would run as a
        # formula ("'=HYPERLINK(...)"): read back, the cell is what was typed
        self.unguard = columns.origin == "leadbot"

    def read(self, number: int, cells: list[Cell] | UnreadableLine) -> ImportRow | Rejection:
        if isinstance(cells, UnreadableLine):
            return Rejection(number, "unreadable_line", text=cells.why)
        if self.unguard:
            cells = [_unguarded(cell) for cell in cells]
        try:
            return self._read(number, cells)
        except BadValue as bad:
            return self._rejection(number, bad, cells)

    def _rejection(self, number: int, bad: BadValue, cells: list[Cell]) -> Rejection:
        columns = self.columns.fields.get(bad.field or "", ())
        column = columns[bad.position] if bad.position < len(columns) else None
        header = self.columns.headers[column] if column is not None else None
        return Rejection(number, bad.problem, bad.field, header, bad.text, _shown(cells))

    def _cells(self, cells: list[Cell], name: str) -> list[Cell]:
        return [cells[i] if i < len(cells) else None for i in self.columns.fields.get(name, ())]

    def _one(self, cells: list[Cell], name: str) -> Cell:
        found = self._cells(cells, name)
        return found[0] if found else None

    def _text(self, cells: list[Cell], name: str, limit: int = values.SHORT_LIMIT) -> str | None:
        return values.text(self._one(cells, name), limit)

    def _moment(self, cells: list[Cell], name: str) -> datetime | None:
        try:
            return values.moment(self._one(cells, name), self.zone)
        except BadValue as bad:
            bad.field = name
            raise

    def _read(self, number: int, cells: list[Cell]) -> ImportRow | Rejection:
        try:
            phone = values.phone(self._cells(cells, "phone"), self.region)
        except BadValue as bad:
            bad.field = "phone"
            raise
        try:
            email = values.email(self._cells(cells, "email"))
        except BadValue as bad:
            bad.field = "email"
            raise
        notes = [values.text(cell) for cell in self._cells(cells, "message")]
        title = self._text(cells, "title", values.TEXT_LIMIT)
        message = "\n".join(note for note in notes if note)[: values.TEXT_LIMIT] or title
        if not (phone or email or message):
            return Rejection(number, "no_contact", cells=_shown(cells))
        created = self._moment(cells, "created") or self.now
        if created > self.now + CLOCK_SKEW:
            raise _bad("future", "created", self._text(cells, "created"))
        status = values.status(self._one(cells, "status"), self.own_statuses)
        closed_at = taken_at = contacted_at = None
        for name in ("taken", "contacted", "closed"):
            moment = self._moment(cells, name)
            if moment is not None and moment < created:
                raise _bad("before_created", name, self._text(cells, name))
            if name == "taken":
                taken_at = moment
            elif name == "contacted":
                contacted_at = moment
            else:
                closed_at = moment
        if status.closed is not None and closed_at is None:
            # when it was closed is not said: its last change, else its arrival
            modified = self._moment(cells, "modified")
            closed_at = modified if modified is not None and modified >= created else created
        owner_text = self._text(cells, "owner")
        reason, words = self._reason(cells, status)
        return ImportRow(
            number=number,
            key=self._key(cells),
            created_at=created,
            closed=status.closed,
            status_text=self._text(cells, "status"),
            status_known=status.known,
            owner=self.staffing.match(owner_text),
            owner_text=owner_text,
            name=self._name(cells),
            phone=phone,
            email=email,
            message=message,
            title=title,
            service=self._text(cells, "service"),
            source=(self._text(cells, "source") or IMPORT_SOURCE).lower()[:SOURCE_LIMIT],
            external_id=self._text(cells, "external_id", 128),
            closed_at=closed_at if status.closed is not None else None,
            taken_at=taken_at,
            contacted_at=contacted_at,
            reason=reason,
            words=words,
            amount=self._amount(cells),
            utm={k: v for k in UTM_FIELDS if (v := self._text(cells, k))},
        )

    def _amount(self, cells: list[Cell]) -> Decimal | None:
        try:
            return values.amount(self._one(cells, "amount"))
        except BadValue as bad:
            bad.field = "amount"
            raise

    def _name(self, cells: list[Cell]) -> str | None:
        parts = [self._text(cells, part) for part in ("name", "middle_name", "last_name")]
        return " ".join(part for part in parts if part)[: values.SHORT_LIMIT] or None

    def _reason(self, cells: list[Cell], status: Status) -> tuple[str | None, str | None]:
        """A refused or junk lead's reason as one of ours (by code or label, either
        language); another reason is "other" with the file's words."""
        written = self._text(cells, "reason")
        words = self._text(cells, "words")
        if status.closed not in (LeadStatus.JUNK, LeadStatus.REFUSED) or not written:
            return None, words
        outcome = "junk" if status.closed == LeadStatus.JUNK else "refuse"
        known = self.reasons[outcome]
        key = _fold(written)
        if key in known:
            return known[key], words
        if "other" in known.values():
            return "other", words or written
        return None, words or written

    def _key(self, cells: list[Cell]) -> str:
        origin = self.columns.origin
        external = self._text(cells, "external_id", 128)
        if origin in KEYED_ORIGINS and external:
            identity = f"{origin}:id:{external}"
        else:
            identity = "row:" + "\x1f".join(values.text(cell) or "" for cell in cells)
        return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # as bot/reports/export.py guards them


def _unguarded(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell.startswith("'") and cell[1:2].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _bad(problem: str, field: str, written: str | None) -> BadValue:
    bad = BadValue(problem, written or "")
    bad.field = field
    return bad


def _shown(cells: list[Cell]) -> tuple[str, ...]:
    return tuple(values.text(cell) or "" for cell in cells)


def _fold(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


def _own_statuses() -> dict[str, LeadStatus | None]:
    """leadbot's export's status words, either language -> closed status (None: open)."""
    found: dict[str, LeadStatus | None] = {}
    for locale in ("ru", "en"):
        for code, word in labels(locale)["export"]["statuses"].items():
            status = LeadStatus(code)
            found[_fold(str(word))] = None if status not in _CLOSED else status
    return found


_CLOSED = (LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK)


def _reasons(config: AppConfig) -> dict[str, dict[str, str]]:
    """Per outcome (junk, refuse): each reason's code and labels, folded -> code."""
    found: dict[str, dict[str, str]] = {}
    for outcome in ("junk", "refuse"):
        table: dict[str, str] = {}
        for reason in config.reasons(outcome):
            for word in (reason.code, reason.label("ru"), reason.label("en")):
                table.setdefault(_fold(word), reason.code)
        found[outcome] = table
    return found
