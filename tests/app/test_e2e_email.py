"""End to end, against a real IMAP server (Dovecot, scripts/test-imap): a letter delivered to
the team's mailbox becomes a lead whose card reaches the managers' Telegram; the client's reply
in the thread reaches the owner with Reply, its file as a document; auto-replies, lists and
bounces make no lead; a restart (even one between the commit and the flag) processes nothing
twice; IDLE and polling both work; a mailbox that is down is retried and the admins told once,
and told when it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.mail import imap
from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import EmailAttachment, EmailLetter, Lead, Staff
from tests.harness import ANNA, BORIS, STRANGER, Phone, card_buttons, running_app, unpaced_config
from tests.mail_server import MailServer
from tests.mailbox import ImapMailbox, free_port

FLAG = "$Leadbot"
# the tests of the mailbox itself (down, refused, dropped, old mail, a bad letter) run on SQLite
# only: the database's part of them is test_email_intake's, on both
MAILBOX_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# the watcher as the tests drive it: fast retries, admins told after 2 failures in a row
WATCHER = {"retry_first": "0.05s", "retry_max": "0.2s", "tell_admins_after": 2, "timeout": "5s"}
IDLE = {**WATCHER, "poll_every": "1h"}  # only IDLE can bring a letter in time
POLL = {**WATCHER, "idle": False, "poll_every": "0.1s", "max_letter_bytes": 100_000}


def letter(
    text: str,
    *,
    sender: str = '"Ivan <b>Petrov</b>" <ivan@client.example>',
    subject: str = "Kitchen <price>",
    message_id: str = "first@client.example",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    files: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales@ourteam.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    for name, data in files:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return message.as_bytes()


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
    """The first truthy result of `check`, asked again until `within` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not true within {within} s: {check}")
        await asyncio.sleep(0.02)


async def watching(app: Application, emulator: TelegramEmulator, passes: int = 1) -> None:
    """The watcher has connected and looked at the mailbox `passes` times (and the managers
    have opened the bot: their cards come in their language)."""
    assert app.mailbox is not None
    for who in (ANNA, BORIS):
        await Phone(emulator, who).write("/start")

    async def done() -> bool:
        return app.mailbox is not None and app.mailbox.passes >= passes

    await eventually(done)


async def flagged(mailbox: ImapMailbox, count: int) -> dict[int, set[str]]:
    async def check() -> dict[int, set[str]] | None:
        flags = await mailbox.flags()
        done = [uid for uid, found in flags.items() if FLAG in found]
        return flags if len(done) >= count else None

    return await eventually(check)


async def counted(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def outcomes(sessions: SessionFactory) -> list[tuple[int | None, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(EmailLetter.uid, EmailLetter.outcome)
            .where(EmailLetter.direction == "in")
            .order_by(EmailLetter.uid)
        )
        return [(uid, outcome) for uid, outcome in rows]


async def test_a_letter_becomes_a_lead_and_a_reply_in_its_thread_reaches_the_owner(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    config = unpaced_config(email=IDLE)
    async with running_app(emulator, database_url, clock, config, **mailbox.settings()) as app:
        await watching(app, emulator)
        assert app.mailbox is not None and app.mailbox.uses_idle  # Dovecot offers IDLE
        await mailbox.deliver(letter("Need a kitchen.\nCall me: 8 900 123-45-67\n-- \nIvan"))
        anna = Phone(emulator, ANNA)
        card = await anna.next_message(0, "Lead #1")
        # the card as a manager sees it: the source, the sender, the subject and words (the
        # sender's HTML shown as text, the signature gone)
        assert card.text.startswith("Lead #1 · e-mail")
        assert "Ivan <b>Petrov</b>" in card.text and "+7 900 123-45-67" in card.text
        assert "Kitchen <price>" in card.text and "Need a kitchen." in card.text
        assert "-- " not in card.text
        await Phone(emulator, BORIS).next_message(0, "Лид #1")  # Boris reads Russian
        assert FLAG in (await flagged(mailbox, 1))[1]  # flagged after the commit

        await anna.press(card, "lead:take:1")
        await anna.until(card, "In work — yours")
        before = len(anna.messages())
        reply = letter(
            "Tuesday suits me.\n\nOn Mon, 1 Dec 2026, Anna <sales@ourteam.example> wrote:\n> When?",
            subject="Re: Kitchen <price>",
            message_id="second@client.example",
            in_reply_to="first@client.example",
            files=(("plan.pdf", b"%PDF-1.4 plan"),),
        )
        await mailbox.deliver(reply)
        relayed = await anna.next_message(before, "got in touch again")
        assert "💬 Tuesday suits me." in relayed.text and "When?" not in relayed.text
        assert "📎 plan.pdf (13 B)" in relayed.text  # the file named in the history
        assert [text for text, _ in card_buttons(relayed)] == ["💬 Reply"]
        document = await anna.next_message(before, "plan.pdf — from the client's e-mail")
        assert document.kind == "sendDocument"
        assert [text for text, _ in card_buttons(document)] == ["💬 Reply"]
        await flagged(mailbox, 2)
    assert await counted(sessions, Lead) == 1
    assert await outcomes(sessions) == [(1, "lead"), (2, "joined")]
    async with sessions() as session:
        stored = await session.scalar(select(EmailAttachment))

    async def dropped() -> bool:
        async with sessions() as session:
            row = await session.get(EmailAttachment, stored.id if stored else 0)
            return row is not None and row.data is None

    assert stored is not None and stored.name == "plan.pdf"
    await eventually(dropped)  # Telegram has it now: leadbot keeps only its name and size


DSN = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"Message-ID: <dsn-1@mx.client.example>\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
    b"Final-Recipient: rfc822; gone@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours-1@ourteam.example>\r\n"
    b"--B--\r\n"
)


async def test_machines_letters_make_no_lead_and_polling_finds_the_rest(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    config = unpaced_config(email=POLL)
    async with running_app(emulator, database_url, clock, config, **mailbox.settings()) as app:
        await watching(app, emulator)
        assert app.mailbox is not None and not app.mailbox.uses_idle
        await mailbox.deliver(
            letter("I am away", message_id="a@x", headers={"Auto-Submitted": "auto-replied"}),
            letter("Sale!", message_id="b@x", headers={"List-Id": "<news.shop.example>"}),
            DSN,
            letter("<script>alert(1)</script> 💥 " + "Ж" * 10_000, message_id="c@x"),
            # 400 kB, above max_letter_bytes: read in part, its file named, not passed on
            letter(
                "Big letter from Olga",
                sender="olga@client.example",
                message_id="d@x",
                files=(("scan.pdf", b"%PDF" * 100_000),),
            ),
        )
        await flagged(mailbox, 5)
        anna = Phone(emulator, ANNA)
        card = await anna.next_message(0, "Lead #1")
        assert "<script>alert(1)</script> 💥" in card.text  # shown as text, not markup
        big = await anna.next_message(0, "Lead #2")
        assert "Big letter from Olga" in big.text and "📎 scan.pdf" in big.text
        named = await anna.next_message(0, "too big to pass on")
        assert "• scan.pdf — ?" in named.text
    assert await outcomes(sessions) == [
        (1, "auto_reply"),
        (2, "list"),
        (3, "bounce"),
        (4, "lead"),
        (5, "lead"),
    ]
    assert await counted(sessions, Lead) == 2
    assert await counted(sessions, EmailAttachment) == 0
    assert len([m for m in anna.messages() if " · e-mail" in m.text]) == 2


async def test_a_restart_processes_nothing_twice_even_between_commit_and_flag(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    config = unpaced_config(email=POLL)
    settings = mailbox.settings()
    # two letters arrive while leadbot is down: read when it starts
    await mailbox.deliver(
        letter("First", message_id="1@c", sender="one@client.example"),
        letter("Second", message_id="2@c", sender="two@client.example"),
    )
    async with running_app(emulator, database_url, clock, config, **settings) as app:
        await watching(app, emulator)
        await flagged(mailbox, 2)
    # as if the process died after the commit and before the flag: the flag is not there
    await mailbox.unflag(2)
    await mailbox.deliver(letter("Third", message_id="3@c", sender="three@client.example"))
    async with running_app(emulator, database_url, clock, config, **settings) as app:
        await watching(app, emulator)
        flags = await flagged(mailbox, 3)
    assert all(FLAG in found for found in flags.values())
    assert await outcomes(sessions) == [(1, "lead"), (2, "lead"), (3, "lead")]
    assert await counted(sessions, Lead) == 3
    anna = Phone(emulator, ANNA)
    # one card a lead (the first two may come before Anna's /start: in Russian)
    cards = [m.text.split(" · ")[0] for m in anna.messages() if " · e-mail" in m.text]
    assert sorted(card.split()[-1] for card in cards) == ["#1", "#2", "#3"]


@MAILBOX_ONLY
async def test_a_mailbox_down_is_retried_and_the_admins_told_once_then_told_it_is_back(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    config = unpaced_config(email=POLL)
    port = free_port()  # nothing listens there yet: the mailbox is down
    settings = mailbox.settings(port=port)
    await mailbox.deliver(letter("Waiting in the mailbox", message_id="w@c"))
    admin = Phone(emulator, STRANGER)
    async with running_app(
        emulator, database_url, clock, config, admin_ids=[STRANGER], **settings
    ) as app:
        assert app.mailbox is not None

        async def failed_a_while() -> bool:
            return app.mailbox is not None and app.mailbox.failures >= 5

        await eventually(failed_a_while)
        down = await admin.next_message(0, "недоступен")
        assert down.text.startswith(f"📭 Почтовый ящик {mailbox.user}@127.0.0.1/INBOX")
        await mailbox.open_forwarder(port)
        try:
            back = await admin.next_message(0, "снова читается")
            assert back.text.startswith("📬 Почтовый ящик")
            await Phone(emulator, ANNA).next_message(0, "#1")  # what waited came in
        finally:
            await mailbox.close_forwarder()
    told = [m.text for m in admin.messages()]
    assert len([t for t in told if t.startswith("📭")]) == 1  # five failures, told once
    assert len([t for t in told if t.startswith("📬")]) == 1


@MAILBOX_ONLY
@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("imap_password", "wrong-password", "LOGIN refused"),
        ("imap_folder", "Leads <2026>", "SELECT refused"),  # no such folder
    ],
)
async def test_a_refused_login_or_folder_is_a_mailbox_down_too(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    mailbox: ImapMailbox,
    setting: str,
    value: str,
    said: str,
) -> None:
    config = unpaced_config(email=POLL)
    settings = {**mailbox.settings(), setting: value}
    admin = Phone(emulator, STRANGER)
    async with running_app(emulator, database_url, clock, config, admin_ids=[STRANGER], **settings):
        down = await admin.next_message(0, "недоступен")
    assert said in down.text and "wrong-password" not in down.text


@MAILBOX_ONLY
async def test_a_connection_dropped_during_idle_is_made_again(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    config = unpaced_config(email=IDLE)
    port = free_port()
    await mailbox.open_forwarder(port)
    try:
        settings = mailbox.settings(port=port)
        async with running_app(emulator, database_url, clock, config, **settings) as app:
            await watching(app, emulator)
            assert app.mailbox is not None and app.mailbox.uses_idle
            await mailbox.close_forwarder()  # the server goes away in the middle of IDLE

            async def noticed() -> bool:
                return app.mailbox is not None and app.mailbox.failures >= 1

            await eventually(noticed)
            await mailbox.open_forwarder(port)
            await watching(app, emulator, passes=2)  # connected again, caught up, in IDLE
            await mailbox.deliver(letter("After the outage"))
            card = await Phone(emulator, ANNA).next_message(0, "Lead #1")
            assert "After the outage" in card.text
    finally:
        await mailbox.close_forwarder()


@MAILBOX_ONLY
async def test_a_letter_that_breaks_processing_is_set_aside_and_the_next_ones_still_come(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = imap.take_letter

    async def breaks_on_poison(session: Any, raw: bytes, *args: Any, **kwargs: Any) -> Any:
        if b"poison" in raw:
            raise ValueError("a bug this letter hits")
        return await real(session, raw, *args, **kwargs)

    monkeypatch.setattr(imap, "take_letter", breaks_on_poison)
    await mailbox.deliver(
        letter("poison", message_id="p@c", sender="p@client.example"),
        letter("Fine letter", message_id="f@c", sender="f@client.example"),
    )
    config = unpaced_config(email=POLL)
    async with running_app(emulator, database_url, clock, config, **mailbox.settings()) as app:
        await watching(app, emulator)
        await flagged(mailbox, 2)  # both marked: the poison is not read again and again
        assert app.mailbox is not None and app.mailbox.failures == 0
    assert await outcomes(sessions) == [(1, "ignored"), (2, "lead")]
    assert await counted(sessions, Lead) == 1


@MAILBOX_ONLY
async def test_on_its_first_read_of_a_mailbox_old_mail_is_set_aside(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
) -> None:
    # a month before the application's clock (5 Jan 2026): long before first_start_back (3d)
    async with mailbox.client() as client:
        old = letter("An old letter from last year", message_id="old@c")
        response = await client.append(old, mailbox="INBOX", date=clock.now() - timedelta(days=30))
        assert response.result == "OK"
    await mailbox.deliver(letter("A new one", message_id="new@c"))
    config = unpaced_config(email=POLL)
    async with running_app(emulator, database_url, clock, config, **mailbox.settings()) as app:
        await watching(app, emulator)
        await flagged(mailbox, 2)
        card = await Phone(emulator, ANNA).next_message(0, "Lead #1")
        assert "A new one" in card.text
    assert await outcomes(sessions) == [(1, "ignored"), (2, "lead")]
    assert await counted(sessions, Lead) == 1


async def test_the_whole_round_an_email_a_lead_an_answer_by_email_the_clients_reply(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    sessions: SessionFactory,
    mailbox: ImapMailbox,
    mail_server: MailServer,
) -> None:
    """Kate's letter to the team's mailbox (IMAP) becomes lead #1 on Anna's phone; Anna's
    answer leaves by SMTP in Kate's thread; Kate's reply to it, from another address of hers,
    comes back by IMAP to the same lead with Reply; a bounce of the answer is on its history."""
    config = unpaced_config(email=IDLE)
    smtp = {
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_server.port,
        "smtp_tls": "none",
        "smtp_from": "Sales team <sales@team.test>",
    }
    async with running_app(
        emulator, database_url, clock, config, **mailbox.settings(), **smtp
    ) as app:
        await watching(app, emulator)
        first = letter(
            "How much is delivery to Moscow?",
            sender="Kate <kate@client.example>",
            subject="Delivery",
            message_id="kate-1@client.example",
        )
        await mailbox.deliver(first)
        anna = Phone(emulator, ANNA)
        card = await anna.next_message(0, "Lead #1")
        question = await anna.press_for_reply(card, "lead:reply:1", "Your answer")
        assert "kate@client.example" in question.text  # it goes by e-mail
        before = len(anna.messages())
        emulator.send_text(ANNA, "Delivery is free.")
        await anna.next_message(before, "Sent to kate@client.example")
        [sent] = mail_server.received
        assert sent.rcpt_tos == ["kate@client.example"]
        assert sent.message["In-Reply-To"] == "<kate-1@client.example>"
        assert sent.message["Subject"] == "Re: Delivery"
        ours = sent.message["Message-ID"].strip("<>")

        before = len(anna.messages())
        reply = letter(
            "Great, thanks!\n\nOn Mon, Sales team <sales@team.test> wrote:\n> Delivery is free.",
            sender="kate.home@other.example",
            subject="Re: Delivery",
            message_id="kate-2@other.example",
            in_reply_to=ours,
        )
        await mailbox.deliver(reply)
        relayed = await anna.next_message(before, "got in touch again")
        assert "💬 Great, thanks!" in relayed.text and "Delivery is free" not in relayed.text
        assert [text for text, _ in card_buttons(relayed)] == ["💬 Reply"]

        report = DSN.replace(b"ours-1@ourteam.example", ours.encode())
        await mailbox.deliver(report)
        bounced = await anna.next_message(before, "was not delivered")
        # the report's words reach Anna: the status the receiving server gave
        assert "kate@client.example" in bounced.text and "5.1.1" in bounced.text
    assert await counted(sessions, Lead) == 1
    assert await outcomes(sessions) == [(1, "lead"), (2, "joined"), (3, "bounce")]
    async with sessions() as session:
        answer = await session.scalar(select(EmailLetter).where(EmailLetter.direction == "out"))
    assert answer is not None and answer.outcome == "bounced"
