"""Reading a table from a file as a stream of rows: CSV in UTF-8 (with or without a BOM),
cp1251 or another single-byte code page, cells separated by `;`, `,` or a tab; or the first
sheet of an XLSX workbook. Nothing is held but the row being read, so a 50,000-row file costs
the memory of one row (plus an XLSX's shared strings, which the format keeps in one place).

The encoding is found by charset-normalizer on the file's first 64 KiB (cut at a line end, so
a multi-byte letter is never split), among the encodings a Russian or Western team's
spreadsheet is saved in; the delimiter by csv.Sniffer on the same sample (falling back to
the most frequent of the three in the header line). XLSX is read by openpyxl in read-only
mode, which parses the sheet's XML as it goes instead of loading the workbook."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

import charset_normalizer
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

Cell = str | int | float | bool | datetime | date | time | None

SAMPLE_BYTES = 64 * 1024
# what a team's spreadsheet is saved in: Excel's "CSV (UTF-8)", Russian Windows' and DOS's
# code pages, KOI8-R (old mail), Western Windows; charset-normalizer picks among these only
# (left free it reads a short cp866 file as Ukrainian cp1125)
ENCODINGS = ("utf_8", "cp1251", "cp866", "koi8_r", "cp1252")
DELIMITERS = ";,\t"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old .xls (and .doc) format


class UnreadableFile(ValueError):
    """The file is not a table leadbot can read; `problem` names why (a template's key)."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem = problem
        self.detail = detail


@dataclass
class Table:
    """A file's header and its rows, read as they are asked for. `rows` yields each data
    row with its line (CSV) or row (XLSX) number as a person finds it in the file; a CSV line
    that cannot be read yields an UnreadableLine in place of its cells."""

    kind: str  # "csv" or "xlsx"
    headers: list[str]
    rows: Iterator[tuple[int, list[Cell] | UnreadableLine]]
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class UnreadableLine:
    why: str


@contextmanager
def open_table(path: Path) -> Iterator[Table]:
    """The table in the file at `path`, by its content (not its name): a ZIP is a workbook,
    anything else text. UnreadableFile when it is neither, or holds no header."""
    with path.open("rb") as raw:
        head = raw.read(len(ZIP_MAGIC))
    if head.startswith(OLE_MAGIC):
        raise UnreadableFile("old_excel")
    if head.startswith(ZIP_MAGIC):
        with _xlsx(path) as table:
            yield table
        return
    with path.open("rb") as raw:
        yield _csv(raw)


def is_table_name(name: str) -> bool:
    """A file name a person sends a table as (.csv, .txt, .tsv, .xlsx, .xlsm)."""
    return name.lower().endswith((".csv", ".txt", ".tsv", *XLSX_SUFFIXES))


# --- CSV --------------------------------------------------------------------------------------


def sample_of(raw: IO[bytes]) -> bytes:
    """The first 64 KiB, cut after its last line end when there is more (never mid-letter)."""
    sample = raw.read(SAMPLE_BYTES)
    raw.seek(0)
    if len(sample) == SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    return sample


def detect_encoding(sample: bytes) -> str:
    """The encoding of a text sample: a BOM says it; else charset-normalizer's best guess
    among ENCODINGS (plain ASCII reads the same in any, so it is UTF-8)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:  # no text a spreadsheet saves holds NUL: a picture, an archive
        raise UnreadableFile("not_text")
    if not sample.strip():
        return "utf-8"
    best = charset_normalizer.from_bytes(sample, cp_isolation=list(ENCODINGS)).best()
    if best is None:  # UTF-8 with a broken byte or two: those become U+FFFD
        return "utf-8"
    return "utf-8" if best.encoding in ("ascii", "utf_8") else best.encoding


def detect_delimiter(text: str) -> str:
    """`;`, `,` or tab: what csv.Sniffer finds in the sample; when it cannot tell, the one
    the header line holds most of (a one-column file: `;`, as it does not matter)."""
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = text.split("\n", 1)[0]
        counts = {mark: header.count(mark) for mark in DELIMITERS}
        best = max(counts, key=lambda mark: counts[mark])
        return best if counts[best] else ";"


def _csv(raw: IO[bytes]) -> Table:
    sample = sample_of(raw)
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    delimiter = detect_delimiter(text)
    # a byte the detected encoding cannot read later in the file becomes U+FFFD in its cell:
    # that row may be rejected, the file is not
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    headers: list[str] | None = None
    for cells in _safe(reader):
        if isinstance(cells, UnreadableLine):
            raise UnreadableFile("no_header")
        if any(cell.strip() for cell in cells):
            headers = [cell.strip() for cell in cells]
            break
    if headers is None:
        raise UnreadableFile("empty")
    return Table(
        "csv", headers, _numbered(reader), encoding=encoding.replace("_", "-"), delimiter=delimiter
    )


def _safe(reader: Any) -> Iterator[list[str] | UnreadableLine]:
    """The reader's rows; a line it cannot parse (a cell longer than csv allows, 128 KiB)
    becomes an UnreadableLine and reading goes on with the next."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield UnreadableLine(str(error))


def _numbered(reader: Any) -> Iterator[tuple[int, list[Cell] | UnreadableLine]]:
    for cells in _safe(reader):
        # the line the row ended on: what a text editor shows (a quoted cell may span lines)
        number = reader.line_num
        if isinstance(cells, UnreadableLine):
            yield number, cells
        elif any(cell.strip() for cell in cells):
            yield number, list(cells)


# --- XLSX -------------------------------------------------------------------------------------


@contextmanager
def _xlsx(path: Path) -> Iterator[Table]:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise UnreadableFile("bad_xlsx", str(error)[:200]) from error
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise UnreadableFile("empty")
        # a workbook's own idea of its size is often wrong (or absent): read what is there
        sheet.reset_dimensions()
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        headers: list[str] | None = None
        for _, values in rows:
            if any(_filled(value) for value in values):
                headers = ["" if value is None else str(value).strip() for value in values]
                break
        if headers is None:
            raise UnreadableFile("empty")
        data = ((number, list(values)) for number, values in rows if any(map(_filled, values)))
        yield Table("xlsx", headers, data)
    finally:
        book.close()


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))
