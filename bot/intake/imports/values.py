"""A cell's value read as what its column holds: text, a moment, an amount, a status. Each
reader raises BadValue (with the problem's name, a template key) when the cell cannot be that.

Times without a zone are local times in the configured `timezone` (leadbot's export writes
them so; Bitrix24 and amoCRM export the portal's local time). Written as `2026-11-05 14:30`,
`2026-11-05T14:30:00`, `05.11.2026 14:30:00`, `05.11.2026` (a dot: day first), `11/05/2026
02:30:00 pm` (a slash: month first, as US Excel writes it), with an offset (`+03:00`, `Z`) when
the file gives one, or as a spreadsheet's date-time cell."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation

from bot.common.contacts import InvalidContactField, normalise_email, normalise_phone
from bot.intake.imports.reading import Cell
from storage.models import LeadStatus

MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
TEXT_LIMIT = 4000  # characters kept of a free-text cell (a comment, a title)
SHORT_LIMIT = 200  # a name, a service, a reason's words, a UTM tag
# "15 000,50 руб.", "$1,500.00", "1500 RUB": a currency and the spaces go, digits remain
_CURRENCY = re.compile(
    r"руб(?:лей|ля|ль)?\.?|р\.|₽|rub|rur|usd|eur|\$|€|[\s\u00a0\u202f'_]", re.IGNORECASE
)
_NUMBER = re.compile(r"-?[\d.,]*\d[\d.,]*")
# what no database column or message can carry: NUL, an unpaired surrogate
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PHONE_SPLIT = re.compile(r"[,;/]|\s{2,}")  # "8 900 111-22-33, +7 900 444 55 66"
_DAY_FIRST = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d.%m.%y %H:%M", "%d.%m.%y")
_MONTH_FIRST = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
)


class BadValue(ValueError):
    """A cell that is not what its column holds; `problem` names it for the person."""

    def __init__(self, problem: str, text: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.text = text[:60]
        self.field: str | None = None  # the column's field, set by whoever knows it
        self.position = 0  # which of the field's cells it was (phones: work, mobile...)


def text(cell: Cell, limit: int = TEXT_LIMIT) -> str | None:
    """A cell as trimmed text (a number as written: 79001234567, not 7.9e10); None if empty.
    NUL and unpaired surrogates, which no database or message takes, become U+FFFD."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        value = "1" if cell else "0"
    elif isinstance(cell, float) and cell.is_integer():
        value = str(int(cell))
    elif isinstance(cell, datetime | date | time):
        value = cell.isoformat(sep=" ") if isinstance(cell, datetime) else cell.isoformat()
    else:
        value = str(cell)
    value = _UNSTORABLE.sub("\ufffd", value).strip()
    return value[:limit] or None


def moment(cell: Cell, zone: tzinfo) -> datetime | None:
    """A cell as an aware UTC moment; None if empty; BadValue("bad_date") if unreadable."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, datetime):
        return _aware(cell, zone)
    if isinstance(cell, date):
        return _aware(datetime.combine(cell, time()), zone)
    raw = text(cell, 64) or ""
    value = raw.replace("\u00a0", " ")
    try:
        return _aware(datetime.fromisoformat(value), zone)
    except ValueError:
        pass
    formats = _MONTH_FIRST if "/" in value else _DAY_FIRST
    for pattern in formats:
        try:
            return _aware(datetime.strptime(value, pattern), zone)
        except ValueError:
            continue
    raise BadValue("bad_date", raw)


def _aware(value: datetime, zone: tzinfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def amount(cell: Cell) -> Decimal | None:
    """A non-negative amount of at most two decimals: `15000`, `15 000,50`, `15,000.50`,
    `1500 руб.`; None if empty."""
    if cell is None or isinstance(cell, bool):
        if cell is None:
            return None
        raise BadValue("bad_amount", str(cell))
    if isinstance(cell, int | float):
        raw = repr(cell)
        cleaned = raw
    else:
        raw = text(cell, 64) or ""
        if not raw:
            return None
        cleaned = _CURRENCY.sub("", raw).strip(".,")
        if not _NUMBER.fullmatch(cleaned):
            raise BadValue("bad_amount", raw)
        if "," in cleaned and "." in cleaned:  # the last one is the decimal point
            thousands = "," if cleaned.rindex(".") > cleaned.rindex(",") else "."
            cleaned = cleaned.replace(thousands, "")
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadValue("bad_amount", raw) from None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise BadValue("bad_amount", raw)
    return abs(value.quantize(Decimal("0.01")))


def phone(cells: list[Cell], region: str) -> str | None:
    """The first readable phone among the cells (a cell may hold several, "a, b"), in E.164;
    None when there is none; BadValue("bad_phone") when there were numbers and none read."""
    tried: tuple[int, str] | None = None
    for position, cell in enumerate(cells):
        value = text(cell, 200)
        if not value:
            continue
        for part in _PHONE_SPLIT.split(value):
            if not part.strip():
                continue
            tried = tried or (position, part.strip())
            try:
                return normalise_phone(part.strip(), region)
            except InvalidContactField:
                continue
    if tried is not None:
        raise _bad("bad_phone", *tried)
    return None


def _bad(problem: str, position: int, written: str) -> BadValue:
    bad = BadValue(problem, written)
    bad.position = position
    return bad


def email(cells: list[Cell]) -> str | None:
    """The first readable e-mail among the cells, lower-case; BadValue("bad_email") when
    there were some and none read."""
    tried: tuple[int, str] | None = None
    for position, cell in enumerate(cells):
        value = text(cell, 400)
        if not value:
            continue
        for part in re.split(r"[,;\s]+", value):
            if not part:
                continue
            tried = tried or (position, part)
            try:
                return normalise_email(part)
            except InvalidContactField:
                continue
    if tried is not None:
        raise _bad("bad_email", *tried)
    return None


@dataclass(frozen=True)
class Status:
    """What a file's status means here: closed as `closed` (a LeadStatus), or open (None);
    `known` is False for a name nobody knows (a pipeline's own stage: kept open)."""

    closed: LeadStatus | None
    known: bool = True


OPEN = Status(None)
# status names of leadbot (codes), Bitrix24 (lead statuses' default names, ru and en, and
# their codes) and amoCRM (a pipeline's two fixed stages, and its "unsorted"), folded
STATUSES: dict[str, Status] = {
    **{name: OPEN for name in ("new", "in_work", "callback")},
    **{
        name: Status(LeadStatus(name))
        for name in (LeadStatus.CONVERTED, LeadStatus.REFUSED, LeadStatus.JUNK)
    },
    # Bitrix24: NEW, IN_PROCESS, PROCESSED are open; CONVERTED the good end, JUNK the bad
    **{
        name: OPEN
        for name in (
            "не обработан",
            "в работе",
            "обработан",
            "unassigned",
            "in progress",
            "processed",
            "in_process",
        )
    },
    **{
        name: Status(LeadStatus.CONVERTED)
        for name in ("качественный лид", "сконвертирован", "good lead", "converted")
    },
    **{
        name: Status(LeadStatus.JUNK)
        for name in ("некачественный лид", "забракован", "junk lead", "junk")
    },
    # amoCRM: status 142 and 143 close every pipeline; a lost deal is a client who said no
    **{
        name: Status(LeadStatus.CONVERTED)
        for name in ("успешно реализовано", "closed - won", "closed won", "won")
    },
    **{
        name: Status(LeadStatus.REFUSED)
        for name in ("закрыто и не реализовано", "closed - lost", "closed lost", "lost")
    },
    "неразобранное": OPEN,
    "incoming leads": OPEN,
}


def status(cell: Cell, own_words: dict[str, LeadStatus | None]) -> Status:
    """A status cell read: leadbot's (codes, and the export's words in either language, in
    `own_words`), Bitrix24's, amoCRM's; an empty one is open, an unknown one open and noted."""
    value = text(cell, 100)
    if not value:
        return OPEN
    key = " ".join(value.casefold().replace("ё", "е").split())
    if key in own_words:
        found = own_words[key]
        return OPEN if found is None else Status(found)
    return STATUSES.get(key, Status(None, known=False))
