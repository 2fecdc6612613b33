"""E-mail intake's own cost per letter, without the mail server: `parse_letter` (MIME, HTML to
text, quotes and signatures trimmed) and `take_letter` (the letter's row, the lead through the
intake path, or its thread's lead, in one transaction) over LETTERS letters on a fresh SQLite
file: 70 % new letters (HTML with a quoted reply and a signature, a phone in the text), 20 %
replies in a thread of an earlier one, 10 % auto-replies. Prints a table: median and p95 per
letter, letters a second. Reading the bytes from IMAP is the server's time, not measured here.

    .venv/bin/python -m bench.email_intake
    .venv/bin/python -m bench.email_intake --letters 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa

from bot.config import load_app_config
from bot.email.intake import MailboxPlace, take_letter
from bot.email.letters import parse_letter
from storage.db import create_engine, session_factory
from storage.models import Base

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
HTML = """<html><body><p>Здравствуйте!</p><p>Хочу заказать кухню, длина 3.2 м, фасады
<b>МДФ</b>. Позвоните мне: +7 900 {n:03d}-45-67.</p><div>--<br>Иван Петров</div>
<blockquote>On Mon, 1 Dec 2026 Sales wrote:<br>&gt; Thank you for your letter</blockquote>
</body></html>"""


def letter(n: int) -> bytes:
    """The n-th letter of the mix: new (HTML), a reply in n-7's thread, or an auto-reply."""
    message = EmailMessage()
    message["From"] = f"Иван {n} <client{n}@example.com>"
    message["To"] = "sales@team.test"
    message["Message-ID"] = f"<m{n}@example.com>"
    kind = n % 10
    if kind in (7, 8) and n >= 10:
        message["Subject"] = f"Re: Кухня {n - 7}"
        message["In-Reply-To"] = f"<m{n - 7}@example.com>"
        message["References"] = f"<m{n - 7}@example.com>"
        message.set_content(f"Да, удобно завтра после 18.\n\n> On Mon Sales wrote:\n> {n}")
    elif kind == 9:
        message["Subject"] = "Automatic reply: out of office"
        message["Auto-Submitted"] = "auto-replied"
        message.set_content("I am away until Monday.")
    else:
        message["Subject"] = f"Кухня {n}"
        message.set_content(HTML.format(n=n % 1000), subtype="html")
    return message.as_bytes()


async def measure(letters: int, path: Path) -> dict[str, float]:
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    raw = [letter(n) for n in range(letters)]
    parse: list[float] = []
    for body in raw:
        started = time.perf_counter()
        parse_letter(body)
        parse.append(time.perf_counter() - started)
    config = load_app_config()
    sessions = session_factory(create_engine(f"sqlite+aiosqlite:///{path}"))
    take: list[float] = []
    whole = time.perf_counter()
    for uid, body in enumerate(raw, start=1):
        started = time.perf_counter()
        async with sessions() as session:
            await take_letter(session, body, MailboxPlace("bench/INBOX", 1, uid), NOW, config, None)
        take.append(time.perf_counter() - started)
    whole = time.perf_counter() - whole
    return {
        "parse p50 ms": statistics.median(parse) * 1000,
        "parse p95 ms": statistics.quantiles(parse, n=20)[-1] * 1000,
        "take p50 ms": statistics.median(take) * 1000,
        "take p95 ms": statistics.quantiles(take, n=20)[-1] * 1000,
        "letters/s": letters / whole,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(args.letters, Path(folder) / "bench.db"))
    print(f"| e-mail intake, {args.letters} letters (SQLite) | value |")
    print("|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
