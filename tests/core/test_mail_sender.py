"""The mail sender against a real SMTP server (aiosmtpd, tests/mail_server.py): a queued
answer reaches the server once, in the client's thread; a 4xx or a server down is tried again
after the back-off and nothing is lost; a 5xx is a bounce on the lead; a crash between the
server taking a letter and its being recorded sends it again with the same Message-ID; two
instances on PostgreSQL send a letter once. Driven round by round (`deliver_due`) with a
moved clock: no test sleeps for a back-off."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.mail.sender import FileGone, MailSender
from bot.adapters.mail.smtp import SmtpServer
from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.email.bounces import record_bounce
from bot.email.replies import Attachment, answer_target, queue_email_reply
from bot.leads.actions import take_lead
from bot.leads.notes import lead_history, shown_history
from storage.db import SessionFactory
from storage.models import ANSWER_TASK, EmailLetter, LeadEvent, OutboxMessage, Staff, Task
from tests.email_leads import KATE_ADDRESS, KATE_MESSAGE_ID, TEAM_FROM, email_lead
from tests.mail_server import MailServer

# 10 kB of what a manager may type: HTML, emoji, Cyrillic, a line that looks like a header
HOSTILE = "<b>Цена</b> & сроки 😀\r\nBcc: all@victim.test\n.\n" + "Доставка 🚚 по пятницам. " * 390


def _server(mail: MailServer, **extra: Any) -> SmtpServer:
    return SmtpServer(host="127.0.0.1", port=mail.port, tls="none", sender=TEAM_FROM, **extra)


def _sender(
    sessions: SessionFactory, config: AppConfig, mail: MailServer, clock: ManualClock
) -> MailSender:
    return MailSender(sessions, config, _server(mail), clock)


async def _queued(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, anna: Staff, text: str = "Yes"
) -> EmailLetter:
    """Kate's e-mail lead, taken by Anna, and Anna's answer queued."""
    lead_id = await email_lead(sessions, clock.now(), config)
    async with sessions() as session:
        assert (await take_lead(session, lead_id, anna, clock.now(), config)).ok
    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
        assert target.letter is not None and target.address is not None
        return await queue_email_reply(
            session, lead_id, anna, target.letter, target.address, text, TEAM_FROM, clock.now()
        )


async def _letter(sessions: SessionFactory, letter_id: int) -> EmailLetter:
    async with sessions() as session:
        letter = await session.get(EmailLetter, letter_id)
    assert letter is not None
    return letter


async def _told(sessions: SessionFactory) -> list[tuple[int | None, str, dict[str, Any]]]:
    """The messages queued for staff: (chat, template, context)."""
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [
            (row.chat_id, row.payload.get("template", ""), row.payload.get("context", {}))
            for row in rows
            if row.payload.get("template", "").startswith("email_")
        ]


async def _history(sessions: SessionFactory, config: AppConfig, lead_id: int) -> list[str]:
    async with sessions() as session:
        lines, _ = await lead_history(session, lead_id, 0)
    return [f"{line.kind}: {line.detail}" for line in shown_history(lines, config, "en")]


async def test_a_queued_answer_reaches_the_server_once_in_the_clients_thread(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """The server gets one letter from the team address to Kate: "Re: Delivery to Moscow?",
    In-Reply-To her letter, References hers plus it, our Message-ID, and Anna's 10 kB of
    hostile text as the UTF-8 body, word for word (its "Bcc:" line stays in the body). Anna is
    told "✉️ sent to kate@example.com"; Kate's wait for an answer ends."""
    anna = staff["anna"]
    queued = await _queued(sessions, clock, config, anna, HOSTILE)
    assert len(HOSTILE.encode()) > 10_000
    sent_at = clock.advance(timedelta(seconds=3))
    assert await _sender(sessions, config, mail_server, clock).deliver_due() == 1

    [got] = mail_server.received
    assert got.mail_from == "sales@team.test" and got.rcpt_tos == [KATE_ADDRESS]
    message = got.message
    assert message["From"] == TEAM_FROM and message["To"] == KATE_ADDRESS
    assert message["Subject"] == "Re: Delivery to Moscow?"
    assert message["In-Reply-To"] == f"<{KATE_MESSAGE_ID}>"
    assert message["References"].split() == [
        "<first.1@team.test>",
        "<second.2@mail.example.com>",
        f"<{KATE_MESSAGE_ID}>",
    ]
    assert message["Message-ID"] == f"<{queued.message_id}>"
    assert message["Bcc"] is None and message.get_all("To") == [KATE_ADDRESS]
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    # word for word (line ends as the mail server's CRLF; set_content ends the last line)
    assert message.get_content().replace("\r\n", "\n") == HOSTILE.replace("\r\n", "\n") + "\n"
    assert all(len(line) <= 998 for line in got.raw.split(b"\r\n"))

    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "sent" and letter.sent_at == sent_at and letter.attempts == 1
    assert await _told(sessions) == [
        (anna.telegram_id, "email_sent", {"lead_id": letter.lead_id, "address": KATE_ADDRESS})
    ]
    async with sessions() as session:
        wait = await session.scalar(select(Task).where(Task.kind == ANSWER_TASK))
    assert wait is None or wait.done_at is not None
    assert await _sender(sessions, config, mail_server, clock).deliver_due() == 0  # once


async def test_a_451_is_tried_again_after_the_back_off_and_sent_once(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """The server says "451 try again later": nothing is told to Anna yet; not before 5 s
    (first_retry), then the letter goes, once, and Anna hears "sent" once."""
    queued = await _queued(sessions, clock, config, staff["anna"])
    sender = _sender(sessions, config, mail_server, clock)
    mail_server.defer_next("451 4.3.0 Mailbox busy, try later")
    assert await sender.deliver_due() == 1
    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "queued" and letter.attempts == 1
    assert letter.last_error == "451 4.3.0 Mailbox busy, try later"
    assert letter.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert mail_server.received == [] and await _told(sessions) == []

    clock.advance(timedelta(seconds=4))
    assert await sender.deliver_due() == 0  # its back-off is not over
    clock.advance(timedelta(seconds=1))
    assert await sender.deliver_due() == 1
    assert len(mail_server.received) == 1
    assert (await _letter(sessions, queued.id)).outcome == "sent"
    assert [template for _, template, _ in await _told(sessions)] == ["email_sent"]


async def test_a_server_down_loses_nothing_and_the_back_off_grows(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """Nothing listens: the letter waits 5 s, then 10 s; once the server is back it goes,
    once."""
    queued = await _queued(sessions, clock, config, staff["anna"])
    sender = _sender(sessions, config, mail_server, clock)
    await mail_server.down()
    assert await sender.deliver_due() == 1
    first = await _letter(sessions, queued.id)
    assert first.outcome == "queued" and "did not answer" in (first.last_error or "")
    assert first.next_attempt_at == clock.now() + timedelta(seconds=5)
    clock.advance(timedelta(seconds=5))
    assert await sender.deliver_due() == 1
    second = await _letter(sessions, queued.id)
    assert second.attempts == 2 and second.next_attempt_at == clock.now() + timedelta(seconds=10)

    await mail_server.up()
    clock.advance(timedelta(seconds=10))
    assert await sender.deliver_due() == 1
    assert len(mail_server.received) == 1
    assert (await _letter(sessions, queued.id)).outcome == "sent"


async def test_a_550_is_a_bounce_on_the_lead_and_the_manager_is_told(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """ "550 no such user": never retried; the history says "⚠️ letter not delivered: 550 ...";
    Anna (the owner and the writer: told once) hears why; Kate still waits for an answer."""
    anna = staff["anna"]
    queued = await _queued(sessions, clock, config, anna)
    mail_server.refuse_next("550 5.1.1 <kate@example.com>: no such user")
    sender = _sender(sessions, config, mail_server, clock)
    assert await sender.deliver_due() == 1
    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "bounced"
    why = "550 5.1.1 <kate@example.com>: no such user"
    assert await _told(sessions) == [
        (
            anna.telegram_id,
            "email_bounced",
            {"lead_id": letter.lead_id, "address": KATE_ADDRESS, "reason": why},
        )
    ]
    assert letter.lead_id is not None
    history = await _history(sessions, config, letter.lead_id)
    assert history[0] == f"email_bounced: {why}"
    assert history[1] == f"replied: ✉️ {KATE_ADDRESS}: Yes"
    clock.advance(timedelta(hours=1))
    assert await sender.deliver_due() == 0 and mail_server.received == []
    async with sessions() as session:
        wait = await session.scalar(select(Task).where(Task.kind == ANSWER_TASK))
    assert wait is None or wait.done_at is None


async def test_a_letter_not_taken_for_a_day_is_given_up_and_the_manager_told(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    queued = await _queued(sessions, clock, config, staff["anna"])
    await mail_server.down()
    sender = _sender(sessions, config, mail_server, clock)
    assert await sender.deliver_due() == 1
    clock.advance(timedelta(hours=24))
    assert await sender.deliver_due() == 1
    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "failed"
    [(_, template, context)] = await _told(sessions)
    assert template == "email_failed" and "did not answer" in context["reason"]
    assert letter.lead_id is not None
    assert (await _history(sessions, config, letter.lead_id))[0].startswith("email_failed: ")


async def test_a_crash_after_sending_sends_again_with_the_same_message_id(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """The server took the letter, and the instance died before recording it (its settle
    fails): once its claim has run out, another instance sends it again — the same letter,
    with the same Message-ID, so Kate's mail program shows it once — and Anna is told once."""
    queued = await _queued(sessions, clock, config, staff["anna"])
    crashing = _sender(sessions, config, mail_server, clock)

    async def dies(*_: Any) -> None:
        raise ConnectionResetError("the database went away")

    crashing._settle = dies  # type: ignore[method-assign]
    assert await crashing.deliver_due() == 1
    assert len(mail_server.received) == 1
    assert (await _letter(sessions, queued.id)).outcome == "queued"

    clock.advance(config.email_delivery.claim_lease)
    assert await _sender(sessions, config, mail_server, clock).deliver_due() == 1
    first, second = mail_server.received
    assert first.message["Message-ID"] == second.message["Message-ID"] == f"<{queued.message_id}>"
    assert first.raw == second.raw  # the same letter, Date included
    assert [template for _, template, _ in await _told(sessions)] == ["email_sent"]


async def test_two_instances_send_a_letter_once(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
    database_url: str,
) -> None:
    """Two senders claim at the same moment (PostgreSQL: SKIP LOCKED and a lease): five
    answers reach the server once each, and Anna hears "sent" five times, not ten."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process: claims are in memory")
    anna = staff["anna"]
    first = await _queued(sessions, clock, config, anna)
    async with sessions() as session:
        target = await answer_target(session, first.lead_id or 0, anna)
        assert target.letter is not None
        for n in range(4):
            await queue_email_reply(
                session,
                first.lead_id or 0,
                anna,
                target.letter,
                KATE_ADDRESS,
                f"#{n}",
                TEAM_FROM,
                clock.now(),
            )
    one, two = (_sender(sessions, config, mail_server, clock) for _ in range(2))
    tried = await asyncio.gather(one.deliver_due(), two.deliver_due())
    assert sum(tried) == 5
    ids = [got.message["Message-ID"] for got in mail_server.received]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert len(await _told(sessions)) == 5


async def test_a_dsn_after_sending_is_a_bounce_and_kate_waits_again(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """The server took the letter; later a delivery report says it bounced (the intake calls
    record_bounce): marked bounced, on the history, Anna told, and Kate's wait for an answer
    runs again. A second report changes nothing; an unknown Message-ID is not ours."""
    queued = await _queued(sessions, clock, config, staff["anna"])
    assert await _sender(sessions, config, mail_server, clock).deliver_due() == 1
    clock.advance(timedelta(minutes=10))
    async with sessions() as session:
        assert await record_bounce(
            session, f"<{queued.message_id}>", "5.2.2 mailbox full", clock.now(), config
        )
        assert await record_bounce(session, queued.message_id, "again", clock.now(), config)
        assert not await record_bounce(session, "<nobody@nowhere>", "x", clock.now(), config)
        assert not await record_bounce(session, KATE_MESSAGE_ID, "x", clock.now(), config)
        await session.commit()
    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "bounced"
    assert [template for _, template, _ in await _told(sessions)] == ["email_sent", "email_bounced"]
    async with sessions() as session:
        bounced = list(
            await session.scalars(select(LeadEvent).where(LeadEvent.kind == "email_bounced"))
        )
        wait = await session.scalar(
            select(Task).where(Task.kind == ANSWER_TASK, Task.done_at.is_(None))
        )
    assert len(bounced) == 1 and bounced[0].data["text"] == "5.2.2 mailbox full"
    assert wait is not None and wait.due_at == clock.now()


async def test_the_login_is_used_when_smtp_user_is_set(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """A server that asks for AUTH takes the letter with SMTP_USER / SMTP_PASSWORD; with a
    wrong password it is a set-up problem, retried (not a bounce on Kate's lead)."""
    server = MailServer(login=("sales", "s3cret"))
    await server.start()
    try:
        queued = await _queued(sessions, clock, config, staff["anna"])
        wrong = MailSender(sessions, config, _server(server, user="sales", password="nope"), clock)
        assert await wrong.deliver_due() == 1
        letter = await _letter(sessions, queued.id)
        assert letter.outcome == "queued" and "login refused" in (letter.last_error or "")
        right = MailSender(
            sessions, config, _server(server, user="sales", password="s3cret"), clock
        )
        clock.advance(timedelta(seconds=5))
        assert await right.deliver_due() == 1
        assert len(server.received) == 1
        assert (await _letter(sessions, queued.id)).outcome == "sent"
    finally:
        await server.stop()


async def test_nothing_a_client_sends_starts_a_header_of_its_own(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """Kate's letter came with CR/LF in its subject, its Message-ID and its References, each
    followed by a header of hers: our answer carries none of them, only one line each."""
    anna = staff["anna"]
    lead_id = await email_lead(
        sessions,
        clock.now(),
        config,
        subject="Привет 😀 <b>\r\nBcc: all@victim.test",
        message_id="kate.9@mail.example.com\r\nX-Evil: 1",
        references="<a@x>\r\nX-Evil: 2\r\n <b@y>",
        from_address='"Kate \\"<b>\\" 😀" <kate@example.com>',
    )
    async with sessions() as session:
        assert (await take_lead(session, lead_id, anna, clock.now(), config)).ok
    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
        assert target.letter is not None and target.address == KATE_ADDRESS
        await queue_email_reply(
            session, lead_id, anna, target.letter, KATE_ADDRESS, "Hi", TEAM_FROM, clock.now()
        )
    assert await _sender(sessions, config, mail_server, clock).deliver_due() == 1
    [got] = mail_server.received
    message = got.message
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Re: Привет 😀 <b> Bcc: all@victim.test"
    # a malformed Message-ID of hers is kept as one token: the thread still holds together
    assert message["In-Reply-To"] == "<kate.9@mail.example.comX-Evil:1>"
    assert message["References"].split() == ["<a@x>", "<b@y>", "<kate.9@mail.example.comX-Evil:1>"]
    assert got.rcpt_tos == [KATE_ADDRESS]
    headers = got.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # non-ASCII encoded (RFC 2047)
    names = [line.split(":", 1)[0] for line in headers.split("\r\n") if not line[:1].isspace()]
    assert sorted(names) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "In-Reply-To",
            "References",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )


async def _queued_file(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, anna: Staff
) -> EmailLetter:
    """Kate's e-mail lead, taken by Anna, and Anna's photo (Telegram file "photo-1") queued."""
    lead_id = await email_lead(sessions, clock.now(), config)
    async with sessions() as session:
        assert (await take_lead(session, lead_id, anna, clock.now(), config)).ok
    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
        assert target.letter is not None
        return await queue_email_reply(
            session,
            lead_id,
            anna,
            target.letter,
            KATE_ADDRESS,
            "the blue one",
            TEAM_FROM,
            clock.now(),
            attachment=Attachment("photo-1", "photo.jpg", "image/jpeg", 4),
            shown="📷 photo: the blue one",
        )


async def test_a_photo_is_fetched_when_sent_and_goes_as_the_same_letter_every_time(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    """The photo is fetched from Telegram when the letter goes (not stored): Kate gets the
    caption as the text and the photo attached. Telegram failing to give it (down) is tried
    again; sent twice after a crash, the letter is the same, boundary and all."""
    queued = await _queued_file(sessions, clock, config, staff["anna"])
    asked: list[str] = []
    down = [True]

    async def files(file_id: str) -> bytes:
        asked.append(file_id)
        if down[0]:
            raise ConnectionError("Telegram is down")
        return b"\xff\xd8\xff\xe0"

    sender = MailSender(sessions, config, _server(mail_server), clock, files=files)
    assert await sender.deliver_due() == 1
    letter = await _letter(sessions, queued.id)
    assert letter.outcome == "queued" and "could not be fetched" in (letter.last_error or "")
    assert mail_server.received == []

    down[0] = False
    clock.advance(timedelta(seconds=5))

    async def dies(*_: Any) -> None:
        raise ConnectionResetError("the database went away")

    crashing = MailSender(sessions, config, _server(mail_server), clock, files=files)
    crashing._settle = dies  # type: ignore[method-assign]
    assert await crashing.deliver_due() == 1
    clock.advance(config.email_delivery.claim_lease)
    assert await sender.deliver_due() == 1
    assert asked == ["photo-1"] * 3
    first, second = mail_server.received
    assert first.raw == second.raw
    text, photo = first.message.iter_parts()
    assert text.get_content().strip() == "the blue one"
    assert (photo.get_content_type(), photo.get_filename()) == ("image/jpeg", "photo.jpg")
    assert photo.get_content() == b"\xff\xd8\xff\xe0"
    assert (await _letter(sessions, queued.id)).outcome == "sent"
    assert queued.lead_id is not None
    assert (await _history(sessions, config, queued.lead_id))[0] == (
        f"replied: ✉️ {KATE_ADDRESS}: 📷 photo: the blue one"
    )


async def test_a_file_telegram_no_longer_gives_fails_the_letter_and_tells_the_manager(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    mail_server: MailServer,
) -> None:
    anna = staff["anna"]
    queued = await _queued_file(sessions, clock, config, anna)

    async def gone(file_id: str) -> bytes:
        raise FileGone("Telegram no longer gives the file (Bad Request: file not found)")

    sender = MailSender(sessions, config, _server(mail_server), clock, files=gone)
    assert await sender.deliver_due() == 1
    assert (await _letter(sessions, queued.id)).outcome == "failed"
    reason = "Telegram no longer gives the file (Bad Request: file not found)"
    assert await _told(sessions) == [
        (
            anna.telegram_id,
            "email_failed",
            {"lead_id": queued.lead_id, "address": KATE_ADDRESS, "reason": reason},
        )
    ]
    assert mail_server.received == []
