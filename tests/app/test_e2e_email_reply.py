"""End to end: Anna answers a client who wrote by e-mail. She presses Reply on the e-mail
lead's card and types; the answer goes through the mail sender to a real SMTP server
(aiosmtpd, tests/mail_server.py) in Kate's thread, and Anna is told "✉️ Sent to ...". A 451
is tried again, a server down loses nothing, a 550 is a bounce on the lead's history with
Anna told why; a photo is refused (only text goes by e-mail). The lead is made as the e-mail
intake makes it (tests/email_leads.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from bot.devtools.emulator.state import BotMessage
from bot.devtools.emulator.telegram_html import utf16_len
from storage.models import EmailLetter, Staff
from tests.email_leads import KATE_ADDRESS, KATE_MESSAGE_ID, TEAM_FROM, email_lead
from tests.harness import ANNA, Phone, outbox_sent, running_app, unpaced_config
from tests.mail_server import MailServer

# what a manager may type, 10 kB in one Telegram message (at most 4096 UTF-16 units): HTML,
# emoji, Cyrillic, three-byte characters, and a line that looks like a header
ANSWER = "Bcc: all@victim.test\n" + ("<b>Цена</b> & сроки 😀 " + "€" * 70 + "\n") * 43


@pytest.fixture
async def mail_app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> AsyncIterator[Application]:
    """The application with SMTP_* pointing at the test's mail server."""
    async with running_app(
        emulator,
        database_url,
        clock,
        config=unpaced_config(),
        smtp_host="127.0.0.1",
        smtp_port=mail_server.port,
        smtp_tls="none",
        smtp_from=TEAM_FROM,
    ) as app:
        yield app


async def until(condition: Callable[[], Awaitable[bool] | bool], within: float = 5.0) -> None:
    """Return once `condition` holds (the mail server and the database tell no emulator)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        held = condition()
        if not isinstance(held, bool):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not so within {within} s")
        await asyncio.sleep(0.02)


async def _asked_for_answer(app: Application, emulator: TelegramEmulator) -> BotMessage:
    """Kate's letter became lead #1; Anna presses Reply on its card (which takes it) and is
    asked for her answer, told it goes by e-mail. The card."""
    anna = Phone(emulator, ANNA)
    await anna.write("/start")
    await email_lead(app.sessions, app.clock.now(), app.config)
    card = await anna.next_message(1, "Lead #1")
    question = await anna.press_for_reply(card, "lead:reply:1", "Your answer")
    assert question.text == (
        "💬 Your answer to the client of lead #1: send it in one message (or /cancel).\n\n"
        "✉️ It goes by e-mail to kate@example.com, in their thread (a photo or file as an "
        "attachment)."
    )
    return card


async def _attempts(app: Application) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(func.sum(EmailLetter.attempts))) or 0)


async def test_annas_answer_reaches_kates_inbox_in_her_thread(
    mail_app: Application, emulator: TelegramEmulator, mail_server: MailServer
) -> None:
    """Anna types 10 kB of HTML, emoji and a "Bcc:" line: the server receives one letter from
    the team address to Kate, "Re: Delivery to Moscow?" in reply to her letter, the text word
    for word as its UTF-8 body and no Bcc header. Anna reads "✉️ Sent to kate@example.com
    (lead #1)." once, and the lead's history shows her answer."""
    assert len(ANSWER.encode()) >= 10_000 and utf16_len(ANSWER) <= 4096
    card = await _asked_for_answer(mail_app, emulator)
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    emulator.send_text(ANNA, ANSWER)
    sent = await anna.next_message(before, "Sent")
    assert sent.text == "✉️ Sent to kate@example.com (lead #1)."

    [got] = mail_server.received
    message = got.message
    assert got.rcpt_tos == [KATE_ADDRESS] and message["From"] == TEAM_FROM
    assert message["Subject"] == "Re: Delivery to Moscow?"
    assert message["In-Reply-To"] == f"<{KATE_MESSAGE_ID}>"
    assert message["References"].split()[-1] == f"<{KATE_MESSAGE_ID}>"
    assert message["Message-ID"].endswith("@team.test>") and message["Bcc"] is None
    assert message.get_content().replace("\r\n", "\n") == ANSWER.strip() + "\n"

    await outbox_sent(mail_app.sessions)
    assert len([m for m in anna.messages() if "Sent to" in (m.text or "")]) == 1
    history = await anna.press_for_reply(card, "lead:history", "history")
    assert "Anna · answered the client: ✉️ kate@example.com: Bcc: all@victim.test" in (
        history.text or ""
    )


async def test_a_451_then_success_sends_one_letter(
    mail_app: Application,
    emulator: TelegramEmulator,
    mail_server: MailServer,
    clock: ManualClock,
) -> None:
    """The server says "451 try again later" once: Anna hears nothing yet; after the back-off
    (5 s) the letter goes, once, and Anna reads "Sent" once."""
    await _asked_for_answer(mail_app, emulator)
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    mail_server.defer_next("451 4.3.0 Mailbox busy")
    emulator.send_text(ANNA, "Yes, on Fridays")
    await until(lambda: _attempts(mail_app), within=5)
    await outbox_sent(mail_app.sessions)
    assert mail_server.received == []
    assert not [m for m in anna.messages()[before:] if "Sent" in (m.text or "")]

    clock.advance(timedelta(seconds=5))
    mail_app.clock_moved()
    sent = await anna.next_message(before, "Sent")
    assert sent.text == "✉️ Sent to kate@example.com (lead #1)."
    assert len(mail_server.received) == 1
    assert mail_server.received[0].message.get_content().strip() == "Yes, on Fridays"


async def test_a_server_down_is_retried_and_nothing_is_lost(
    mail_app: Application,
    emulator: TelegramEmulator,
    mail_server: MailServer,
    clock: ManualClock,
) -> None:
    """Nothing listens when Anna sends her answer: it waits in the table; once the server is
    back and the back-off is over, Kate gets it once and Anna reads "Sent"."""
    await _asked_for_answer(mail_app, emulator)
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    await mail_server.down()
    emulator.send_text(ANNA, "We open at nine")
    await until(lambda: _attempts(mail_app), within=5)
    await mail_server.up()
    clock.advance(timedelta(seconds=5))
    mail_app.clock_moved()
    await anna.next_message(before, "Sent")
    [got] = mail_server.received
    assert got.message.get_content().strip() == "We open at nine"


async def test_a_550_is_a_bounce_on_the_history_and_anna_is_told_why(
    mail_app: Application, emulator: TelegramEmulator, mail_server: MailServer
) -> None:
    """ "550 no such user": never retried; Anna reads why in plain words, and the history says
    "⚠️ letter not delivered: 550 ..."."""
    card = await _asked_for_answer(mail_app, emulator)
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    mail_server.refuse_next("550 5.1.1 <kate@example.com>: no such user")
    emulator.send_text(ANNA, "Yes, on Fridays")
    told = await anna.next_message(before, "not delivered")
    assert told.text == (
        "⚠️ The letter to kate@example.com (lead #1) was not delivered: the mail server refused "
        "it (550 5.1.1 <kate@example.com>: no such user). Check the address or call the "
        "client; this is in the lead's history."
    )
    history = await anna.press_for_reply(card, "lead:history", "history")
    assert "system · ⚠️ letter not delivered: 550 5.1.1 <kate@example.com>: no such user" in (
        history.text or ""
    )
    assert mail_server.received == []
    await outbox_sent(mail_app.sessions)
    assert not [m for m in anna.messages()[before:] if "Sent" in (m.text or "")]


async def test_a_file_goes_as_an_attachment_and_a_sticker_is_refused(
    mail_app: Application, emulator: TelegramEmulator, mail_server: MailServer
) -> None:
    """Anna sends a sticker: she reads that a sticker does not go by e-mail, and nothing is
    queued; an 11 MB file: that a letter takes up to 10 MB. She presses Reply again and sends
    the price list (a PDF with a caption): Kate gets one letter whose text is the caption and
    whose attachment is the file, byte for byte (fetched from Telegram with getFile when the
    letter went); Anna reads "Sent"; the history shows "📎 document: ..."."""
    card = await _asked_for_answer(mail_app, emulator)
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    emulator.send_media(ANNA, "sticker")
    told = await anna.next_message(before, "sticker")
    assert told.text == (
        "✉️ Not sent: a sticker does not go by e-mail. Write your answer as text, or send a "
        "photo or a file."
    )
    async with mail_app.sessions() as session:
        out = await session.scalar(
            select(func.count()).select_from(EmailLetter).where(EmailLetter.direction == "out")
        )
    assert out == 0

    await anna.press_for_reply(card, "lead:reply:1", "Your answer")  # the refusal ended it
    before = len(anna.messages())
    emulator.send_document(ANNA, "video.zip", bytes(11 * 1024 * 1024), mime_type=None)
    too_big = await anna.next_message(before, "MB")
    assert too_big.text == (
        "✉️ Not sent: the file is 11.0 MB, and a letter takes up to 10 MB. Send a smaller one, "
        "or a link to it."
    )
    await anna.press_for_reply(card, "lead:reply:1", "Your answer")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    emulator.send_document(
        ANNA, "Прайс <2026>.pdf", pdf, mime_type="application/pdf", caption="Our prices 😀"
    )
    await anna.next_message(before, "Sent")
    [got] = mail_server.received
    text, attached = got.message.iter_parts()
    assert text.get_content().strip() == "Our prices 😀"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "Прайс <2026>.pdf"
    assert attached.get_content() == pdf
    assert any(r.method == "getFile" for r in emulator.requests)
    history = await anna.press_for_reply(card, "lead:history", "history")
    assert "answered the client: ✉️ kate@example.com: 📎 document: Our prices 😀" in (
        history.text or ""
    )
