"""One incoming letter, on the database side (bot/email/intake.py): it becomes a lead through
the intake path, or joins its thread's lead and reaches the owner as a client's message does,
or is recorded as a machine's letter; each letter is processed once, whatever restarts or
instances. On SQLite and PostgreSQL (two instances at once: PostgreSQL only)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.common.lifecycle import Action
from bot.config import AppConfig, load_app_config
from bot.email.intake import DONE_BEFORE, IGNORED, MailboxPlace, take_letter
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.privacy.erase import erase_person, find_person
from storage.db import SessionFactory
from storage.models import (
    ANSWER_TASK,
    EmailAttachment,
    EmailLetter,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxKind,
    OutboxMessage,
    Staff,
    Task,
)

MAILBOX = "sales@ourteam.example/INBOX"


def place(uid: int, uidvalidity: int = 77) -> MailboxPlace:
    return MailboxPlace(MAILBOX, uidvalidity, uid)


def mail(
    text: str = "Need a kitchen, call me at 8 (900) 123-45-67",
    *,
    sender: str = '"Ivan Petrov" <Ivan@Client.example>',
    subject: str = "Kitchen price",
    message_id: str | None = "first@client.example",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales@ourteam.example"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    for name, data in files:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


async def take(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, raw: bytes, uid: int
) -> tuple[str, int | None]:
    async with sessions() as session:
        result = await take_letter(session, raw, place(uid), clock.now(), config, None)
    return result.outcome, result.lead_id


async def count(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def rows(sessions: SessionFactory, kind: OutboxKind) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(found.all())


async def test_a_letter_becomes_a_lead_with_what_it_says(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    outcome, lead_id = await take(sessions, clock, config, mail(), uid=1)
    assert outcome == "lead" and lead_id is not None
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        letter = await session.scalar(select(EmailLetter))
    assert lead is not None and letter is not None
    assert (lead.source, lead.name, lead.email, lead.phone) == (
        "email",
        "Ivan Petrov",
        "ivan@client.example",
        "+79001234567",  # found in the text
    )
    assert lead.message == "Kitchen price\n\nNeed a kitchen, call me at 8 (900) 123-45-67"
    assert (letter.direction, letter.mailbox, letter.uidvalidity, letter.uid) == (
        "in",
        MAILBOX,
        77,
        1,
    )
    assert (letter.message_id, letter.outcome, letter.lead_id) == (
        "first@client.example",
        "lead",
        lead_id,
    )
    # the card goes to the on-duty managers, as for every new lead (routing: claim)
    cards = await rows(sessions, OutboxKind.CARD)
    assert {row.chat_id for row in cards} == {1001, 1002}


async def test_the_same_letter_is_never_taken_twice(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    assert (await take(sessions, clock, config, mail(), uid=1))[0] == "lead"
    # a restart before the flag was set: the same UID again
    assert await take(sessions, clock, config, mail(), uid=1) == (DONE_BEFORE, None)
    # the same letter under another UID (copied back into the folder): its Message-ID
    assert await take(sessions, clock, config, mail(), uid=2) == (DONE_BEFORE, None)
    assert await count(sessions, Lead) == 1
    assert await count(sessions, EmailLetter) == 1


async def test_letters_without_a_message_id_are_told_apart_by_their_uid(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    one = mail("Hello", message_id=None, sender="a@one.example")
    two = mail("Hello", message_id=None, sender="b@two.example")
    assert (await take(sessions, clock, config, one, uid=1))[0] == "lead"
    assert (await take(sessions, clock, config, two, uid=2))[0] == "lead"
    assert await count(sessions, Lead) == 2


async def test_a_reply_in_the_thread_reaches_the_owner_and_starts_the_answer_limit(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    _, lead_id = await take(sessions, clock, config, mail(), uid=1)
    assert lead_id is not None
    async with sessions() as session:
        assert (await take_lead(session, lead_id, staff["anna"], clock.now(), config)).ok
    # the client answers from another address of theirs: the thread, not the address, decides
    reply = mail(
        "Tuesday suits me.\n\nOn Mon, Anna <sales@ourteam.example> wrote:\n> When?",
        sender="ivan.home@other.example",
        subject="Re: Kitchen price",
        message_id="second@client.example",
        in_reply_to="first@client.example",
    )
    assert await take(sessions, clock, config, reply, uid=2) == ("joined", lead_id)
    async with sessions() as session:
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "repeat_request"))
        task = await session.scalar(select(Task).where(Task.kind == ANSWER_TASK))
    assert event is not None and event.lead_id == lead_id
    assert event.data["message"] == "Tuesday suits me."  # the quote trimmed, no "Re:"
    assert task is not None and task.lead_id == lead_id and task.assignee_id == staff["anna"].id
    [told] = [r for r in await rows(sessions, OutboxKind.TEXT) if r.chat_id == 1001]
    assert told.payload["template"] == "lead_appended"
    assert told.payload["reply"] is True  # Anna answers with Reply
    assert told.payload["context"]["message"] == "Tuesday suits me."
    assert await count(sessions, Lead) == 1


async def test_a_reply_to_our_outgoing_letter_joins_its_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        [made] = await intake_leads(
            session, [LeadInput(source="web_form", phone="+79005550000")], clock.now()
        )
        session.add(
            EmailLetter(
                lead_id=made.lead_id,
                direction="out",
                message_id="answer-1@ourteam.example",
                to_address="kate@client.example",
                outcome="sent",
                created_at=clock.now(),
            )
        )
        await session.commit()
    reply = mail("Thanks!", sender="kate@client.example", in_reply_to="answer-1@ourteam.example")
    assert await take(sessions, clock, config, reply, uid=5) == ("joined", made.lead_id)


async def test_a_reply_to_a_closed_lead_opens_a_new_one_as_a_telegram_message_does(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    _, first = await take(sessions, clock, config, mail(), uid=1)
    assert first is not None
    async with sessions() as session:
        assert (await take_lead(session, first, staff["anna"], clock.now(), config)).ok
        closed = await close_lead(
            session, first, staff["anna"], Action.REFUSE, "price", None, clock.now(), config
        )
        assert closed.ok
    reply = mail(
        "Changed my mind", message_id="again@client.example", in_reply_to="first@client.example"
    )
    outcome, second = await take(sessions, clock, config, reply, uid=2)
    assert outcome == "lead" and second not in (None, first)
    async with sessions() as session:
        lead = await session.get(Lead, second)
    assert lead is not None and lead.is_repeat and lead.status == LeadStatus.NEW


async def test_a_letter_from_a_known_phone_joins_that_clients_open_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    async with sessions() as session:
        [made] = await intake_leads(
            session, [LeadInput(source="web_form", phone="+79001234567")], clock.now()
        )
    outcome, lead_id = await take(sessions, clock, config, mail(), uid=1)
    assert (outcome, lead_id) == ("joined", made.lead_id)


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"X-Autoreply": "yes"}, "auto_reply"),
        ({"Precedence": "bulk"}, "list"),
        ({"List-Id": "<news.shop.example>"}, "list"),
    ],
)
async def test_machines_letters_are_recorded_and_make_no_lead(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    headers: dict[str, str],
    outcome: str,
) -> None:
    assert await take(sessions, clock, config, mail(headers=headers), uid=1) == (outcome, None)
    assert await count(sessions, Lead) == 0
    async with sessions() as session:
        letter = await session.scalar(select(EmailLetter))
    assert letter is not None and (letter.outcome, letter.uid) == (outcome, 1)
    assert await take(sessions, clock, config, mail(headers=headers), uid=1) == (DONE_BEFORE, None)


async def test_a_bounce_of_our_letter_is_recorded_on_its_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    _, lead_id = await take(sessions, clock, config, mail(), uid=1)
    async with sessions() as session:
        session.add(
            EmailLetter(
                lead_id=lead_id,
                direction="out",
                message_id="answer-9@ourteam.example",
                to_address="ivan@client.example",
                outcome="sent",
                created_at=clock.now(),
            )
        )
        await session.commit()
    dsn = (
        b"From: MAILER-DAEMON@mx.ourteam.example\r\n"
        b"Subject: Undelivered\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; ivan@client.example\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 no such user\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: <answer-9@ourteam.example>\r\n--B--\r\n"
    )
    assert await take(sessions, clock, config, dsn, uid=2) == ("bounce", None)
    async with sessions() as session:
        out = await session.scalar(select(EmailLetter).where(EmailLetter.direction == "out"))
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "email_bounced"))
    assert out is not None and out.outcome == "bounced"
    assert event is not None and event.lead_id == lead_id
    assert event.data["text"] == "smtp; 550 no such user"
    assert await count(sessions, Lead) == 1


async def test_files_are_kept_for_the_lead_and_sent_to_the_cards_chats(
    sessions: SessionFactory, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    config = load_app_config(overrides={"email": {"max_file_bytes": 1000}})
    raw = mail(files=[("plan.pdf", b"%PDF" * 10), ("video.mp4", b"v" * 2000)])
    _, lead_id = await take(sessions, clock, config, raw, uid=1)
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
        [stored] = (await session.scalars(select(EmailAttachment))).all()
    assert lead is not None and lead.message is not None
    assert lead.message.endswith("📎 plan.pdf (40 B)\n📎 video.mp4 (1 KB)")  # the history shows
    assert (stored.name, stored.size, stored.data, stored.lead_id) == (
        "plan.pdf",
        40,
        b"%PDF" * 10,
        lead_id,
    )
    documents = await rows(sessions, OutboxKind.DOCUMENT)
    assert sorted(row.chat_id for row in documents) == [1001, 1002]  # the card's chats
    assert {row.payload["attachment_id"] for row in documents} == {stored.id}
    too_big = [
        r
        for r in await rows(sessions, OutboxKind.TEXT)
        if r.payload["template"] == "email_files_too_big"
    ]
    assert sorted(r.chat_id for r in too_big) == [1001, 1002]
    assert too_big[0].payload["context"]["files"] == [{"name": "video.mp4", "size": "1 KB"}]


async def test_an_empty_letter_from_nobody_is_recorded_as_ignored(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    raw = b"From: not an address\r\nMessage-ID: <x@y>\r\n\r\n"
    assert await take(sessions, clock, config, raw, uid=1) == (IGNORED, None)
    assert await take(sessions, clock, config, b"\x00\x01\x02", uid=2) == (IGNORED, None)
    assert await count(sessions, Lead) == 0 and await count(sessions, EmailLetter) == 2


async def test_a_hostile_letter_still_becomes_a_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    raw = (
        b'From: "<b>' + "Ж".encode() * 5000 + b'</b>" <evil@client.example>\r\n'
        b"Subject: <script>alert(1)</script>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + "\ud800 bad surrogate and NUL \x00".encode("utf-8", "surrogatepass")
    )
    outcome, lead_id = await take(sessions, clock, config, raw, uid=1)
    assert outcome == "lead"
    async with sessions() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None and lead.email == "evil@client.example"
    assert lead.name is not None and len(lead.name) == 200
    assert lead.message is not None and "\x00" not in lead.message


async def test_two_instances_reading_one_letter_make_one_lead(
    sessions: SessionFactory,
    clock: ManualClock,
    config: AppConfig,
    staff: dict[str, Staff],
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several instances share PostgreSQL only (SQLite serves one process)")
    results = await asyncio.gather(
        *(take(sessions, clock, config, mail(), uid=1) for _ in range(4))
    )
    assert sorted(outcome for outcome, _ in results) == [DONE_BEFORE] * 3 + ["lead"]
    assert await count(sessions, Lead) == 1
    assert await count(sessions, EmailLetter) == 1


async def test_erasing_the_client_drops_their_files_and_address(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    _, lead_id = await take(sessions, clock, config, mail(files=[("id.pdf", b"passport")]), uid=1)
    async with sessions() as session:
        person = await find_person(session, email="ivan@client.example")
        await erase_person(session, person, "operator", clock.now())
    async with sessions() as session:
        stored = await session.scalar(select(EmailAttachment))
        letter = await session.scalar(select(EmailLetter))
    assert stored is not None and stored.lead_id == lead_id and stored.data is None
    assert letter is not None and letter.from_address is None


async def test_our_own_answer_coming_back_is_no_lead(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    _, lead_id = await take(sessions, clock, config, mail(), uid=1)
    async with sessions() as session:
        session.add(
            EmailLetter(
                lead_id=lead_id,
                direction="out",
                message_id="answer-3@ourteam.example",
                outcome="sent",
                created_at=clock.now(),
            )
        )
        await session.commit()
    # the team address was in the answer's Bcc: the mailbox holds a copy of it
    copy = mail(
        "Our prices are...", sender="sales@ourteam.example", message_id="answer-3@ourteam.example"
    )
    assert await take(sessions, clock, config, copy, uid=2) == (IGNORED, None)
    assert await count(sessions, Lead) == 1
