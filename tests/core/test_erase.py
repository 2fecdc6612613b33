"""A person asks for their data to be removed (`leadbot erase`). Ivan came by a web form and by
the bot, shared his phone, was taken, noted, called back, answered; missed calls came from his
number; another client's note and a manager's list mention him. After the erase, no text or
JSON value of any table (every table the schema has, so tables added later are searched too)
holds his name, phone (in any format), e-mail or Telegram id; Olga's data is whole; the reports'
columns stay; every lead of his records who erased it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.common.clock import ManualClock
from bot.common.contacts import InvalidContactField
from bot.common.lifecycle import Action
from bot.common.outbox import enqueue, text_message
from bot.config import AppConfig, Webhook
from bot.intake.client_chat import client_shared_phone, client_wrote, queue_reply
from bot.intake.input import parse_lead_input
from bot.intake.store import intake_leads
from bot.leads.actions import close_lead, take_lead
from bot.leads.call_backs import schedule_call_back
from bot.leads.notes import add_note, lead_history, shown_history
from bot.privacy.erase import ERASED_EVENT, HELD, NobodyToErase, erase_person, find_person
from bot.telephony.calls import parse_call_event, record_calls
from storage.db import SessionFactory
from storage.models import (
    Base,
    CallRecording,
    Contact,
    EmailLetter,
    HookDelivery,
    Lead,
    LeadEvent,
    LeadStatus,
    LetterDirection,
    LetterOutcome,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Staff,
)
from tests.email_leads import KATE_ADDRESS, KATE_MESSAGE_ID, KATE_SUBJECT, email_lead

NAME = "Иван <b>Petrovsky</b> 🙂"  # Cyrillic (escaped in stored JSON), HTML, an emoji
EMAIL = "Ivan.P@Example.com"
TELEGRAM_ID = 777000123
# the ways his phone is written: typed, by the form's raw payload, as stored, as shown
PHONE_DIGITS = "9005556677"
OLGA_PHONE = "+79001110000"
OPERATOR = "dpo@company.example"


def _traces(text: str) -> list[str]:
    """What of Ivan a stored text still holds."""
    found = []
    if PHONE_DIGITS in re.sub(r"\D", "", text):
        found.append("phone")
    folded = text.casefold()
    found += [word for word in ("иван", "petrovsky", "ivan.p@example.com") if word in folded]
    if str(TELEGRAM_ID) in text:
        found.append("telegram id")
    return found


def _walk(value: Any, where: str) -> list[str]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _walk(k, where) + _walk(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [f for item in value for f in _walk(item, where)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int) and value == TELEGRAM_ID:
        return [f"{where}: telegram id"]
    if isinstance(value, str):
        return [f"{where}: {trace} in {value[:80]!r}" for trace in _traces(value)]
    return []


async def traces_left(sessions: SessionFactory) -> list[str]:
    """Every value in every table (but the staff's own) that still holds a trace of Ivan."""
    left: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in ("staff", "invites"):
                continue
            for row in await session.execute(select(table)):
                for column, value in row._mapping.items():
                    left += _walk(value, f"{table.name}.{column}")
    return left


async def _ivan_and_olga(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> dict[str, int]:
    anna = staff["anna"]
    now = clock.now()
    async with sessions() as session:
        form = parse_lead_input(
            {
                "name": NAME,
                "phone": "8 (900) 555-66-77",
                "email": EMAIL,
                "message": "Call me on 8 900 555 66 77 after 6",
                "source": "tilda",
                "utm_source": "vk",
                "company": "Acme",
                "raw": {"Phone": "8(900)5556677", "Name": NAME},
            },
            "RU",
        )
        olga = parse_lead_input({"name": "Olga", "phone": OLGA_PHONE, "service": "tour"}, "RU")
        ivan_form, olga_lead = await intake_leads(session, [form, olga], now, None, config)
        # he writes to the bot, then shares his phone: his chat is tied to his contact
        chat = await client_wrote(session, TELEGRAM_ID, NAME, "Hi, it's me", now, config, None)
        await client_shared_phone(session, TELEGRAM_ID, NAME, "+7 900 555 66 77", now, config, None)
    async with sessions() as session:
        assert (await take_lead(session, ivan_form.lead_id, anna, now, config)).ok
        assert (await take_lead(session, chat.lead_id, anna, now, config)).ok
        assert (await add_note(session, ivan_form.lead_id, anna, f"e-mail: {EMAIL}", now)).ok
        later = now + timedelta(hours=2)
        assert (await schedule_call_back(session, ivan_form.lead_id, anna, later, now, config)).ok
        boris = staff["boris"]
        assert (await take_lead(session, olga_lead.lead_id, boris, now, config)).ok
        note = "her brother +7 900 555-66-77 too"
        assert (await add_note(session, olga_lead.lead_id, boris, note, now)).ok
        call = {
            "call_id": "c1",
            "direction": "in",
            "status": "missed",
            "from": "89005556677",
            "to": "+74950000000",
            "started_at": now.isoformat(),
        }
        await record_calls(session, [parse_call_event(call, "RU")], now, config)
        await record_calls(session, [parse_call_event(call | {"call_id": "c2"}, "RU")], now, config)
        # his answer from Anna waits to be sent to his chat
        await queue_reply(session, chat.lead_id, anna, TELEGRAM_ID, "Hello Иван!", now, locale="en")
        # a manager's list naming both of them, still to be sent
        shown = [
            {"id": ivan_form.lead_id, "name": NAME, "phone": "+79005556677", "email": EMAIL},
            {"id": olga_lead.lead_id, "name": "Olga", "phone": OLGA_PHONE, "email": None},
        ]
        context = {"leads": shown, "total": 2, "more": 0, "age": "7 days"}
        await enqueue(session, [text_message(None, 1001, anna.id, "stale_closed", context, now)])
        await session.commit()
    async with sessions() as session:
        closed = await close_lead(
            session, chat.lead_id, anna, Action.REFUSE, "price", "Иван: too pricey", now, config
        )
        assert closed.ok
    return {"form": ivan_form.lead_id, "chat": chat.lead_id, "olga": olga_lead.lead_id}


async def test_erase_leaves_no_trace_of_the_person(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    # a CRM takes every event by webhook: his events wait for it, his first was delivered
    hook = Webhook(name="crm", url="https://crm.example/hook", events=["*"], secret_env="CRM")
    config = config.model_copy(update={"webhooks": [hook]})
    leads = await _ivan_and_olga(sessions, clock, config, staff)
    async with sessions() as session:
        first = await session.scalar(
            select(func.min(HookDelivery.id)).where(HookDelivery.lead_id == leads["form"])
        )
        await session.execute(
            update(HookDelivery).where(HookDelivery.id == first).values(state=OutboxState.SENT)
        )
        await session.commit()
    before = await traces_left(sessions)
    assert len(before) > 20  # everywhere: contacts, leads, events, tasks, calls, outbox, hooks
    places = ("contacts.", "leads.", "lead_events.", "tasks.", "calls.", "outbox.", "webhook_")
    for place in places:
        assert any(found.startswith(place) for found in before), place

    async with sessions() as session:
        person = await find_person(session, phone="+7 (900) 555 66 77", region="RU")
        assert set(person.lead_ids) == {leads["form"], leads["chat"]}
        erased = await erase_person(session, person, OPERATOR, clock.now())

    assert await traces_left(sessions) == []
    # not sent: Anna's answer to his chat, and her missed-call notice naming his number (his
    # card, redrawn, still shows the call to return)
    assert erased.held == 2
    assert erased.rows["contacts"] == len(person.contact_ids)
    assert erased.rows["leads"] == 2
    assert erased.rows["webhook_deliveries"] > 1
    async with sessions() as session:
        form = await session.get(Lead, leads["form"])
        chat = await session.get(Lead, leads["chat"])
        olga = await session.get(Lead, leads["olga"])
        assert form is not None and chat is not None and olga is not None
        # the reports' columns stay: what came, from where, how it went, who worked it
        assert (form.source, form.status, form.utm) == (
            "tilda",
            LeadStatus.CALL_BACK,
            {"utm_source": "vk"},
        )
        assert (chat.status, chat.close_reason) == (LeadStatus.REFUSED, "price")
        assert form.owner_id == staff["anna"].id
        assert (form.name, form.phone, form.email, form.message, form.extra) == (
            None,
            None,
            None,
            None,
            {},
        )
        assert chat.close_comment is None
        # Olga keeps her data; her note keeps its words, his number replaced
        assert (olga.name, olga.phone, olga.service) == ("Olga", OLGA_PHONE, "tour")
        olga_contact = await session.get(Contact, olga.contact_id)
        assert olga_contact is not None and olga_contact.phone == OLGA_PHONE
        olga_note = await session.scalar(
            select(LeadEvent.data).where(
                LeadEvent.lead_id == leads["olga"], LeadEvent.kind == "note"
            )
        )
        assert olga_note == {"text": "her brother *** too"}
        # every lead of his says who erased it
        marks = (
            await session.execute(
                select(LeadEvent.lead_id, LeadEvent.data).where(LeadEvent.kind == ERASED_EVENT)
            )
        ).all()
        assert sorted(marks) == sorted(
            [(leads["form"], {"by": OPERATOR}), (leads["chat"], {"by": OPERATOR})]
        )
        held = (
            await session.execute(
                select(OutboxMessage.kind, OutboxMessage.chat_id).where(
                    OutboxMessage.last_error == HELD, OutboxMessage.state == OutboxState.FAILED
                )
            )
        ).all()
        assert sorted(held) == [(OutboxKind.CLIENT_ANSWER, None), (OutboxKind.TEXT, 1001)]
        # the manager's list still goes, with Olga and without him
        listed = await session.scalar(
            select(OutboxMessage.payload)
            .where(OutboxMessage.kind == OutboxKind.TEXT)
            .where(OutboxMessage.lead_id.is_(None))
        )
        assert listed is not None
        assert [entry["name"] for entry in listed["context"]["leads"]] == ["***", "Olga"]
        # his cards in the managers' chats are redrawn without him
        refreshes = await session.scalars(
            select(OutboxMessage.lead_id).where(
                OutboxMessage.kind == OutboxKind.CARD_REFRESH,
                OutboxMessage.state == OutboxState.PENDING,
            )
        )
        assert {leads["form"], leads["chat"]} <= set(refreshes.all())
        # the delivered event is gone; those still waiting go out without him
        waiting = (await session.scalars(select(HookDelivery))).all()
        assert first not in {row.id for row in waiting}
        assert {row.state for row in waiting} == {OutboxState.PENDING}
        assert {row.lead_id for row in waiting} >= {leads["olga"]}
        lines, _pages = await lead_history(session, leads["form"], 0)
    shown = shown_history(lines, config, "en")
    assert (shown[0].kind, shown[0].detail) == (ERASED_EVENT, OPERATOR)
    assert [line.detail for line in shown if line.kind == "note"] == [""]


async def test_erase_by_telegram_id_and_what_is_refused(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig
) -> None:
    """A client who only wrote to the bot is found by Telegram id; a phone nobody has finds
    nobody, and an unreadable one is refused before anything is searched."""
    async with sessions() as session:
        wrote = await client_wrote(session, TELEGRAM_ID, NAME, "hi", clock.now(), config, None)
    async with sessions() as session:
        with pytest.raises(NobodyToErase):
            await find_person(session, phone="+7 900 000-00-01", region="RU")
        with pytest.raises(InvalidContactField):
            await find_person(session, phone="<script>", region="RU")
        person = await find_person(session, telegram_id=TELEGRAM_ID)
        assert person.lead_ids == (wrote.lead_id,)
        await erase_person(session, person, OPERATOR, clock.now())
    assert await traces_left(sessions) == []
    async with sessions() as session:
        with pytest.raises(NobodyToErase):  # nothing of him is left to find
            await find_person(session, telegram_id=TELEGRAM_ID)


async def test_erase_forgets_the_persons_letters_and_recordings(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Kate wrote by e-mail, Anna's answer is still queued and a call of hers was recorded:
    after the erase her letters keep no subject, body or address, the answer is not sent
    (failed, "erased on request"), and her recording's row is gone, so no button on her lead
    fetches her voice from the PBX."""
    now = clock.now()
    lead_id = await email_lead(sessions, now, config)
    async with sessions() as session:
        session.add_all(
            [
                EmailLetter(
                    lead_id=lead_id,
                    direction=LetterDirection.OUT,
                    message_id="answer.1@team.test",
                    in_reply_to=KATE_MESSAGE_ID,
                    subject=f"Re: {KATE_SUBJECT}",
                    from_address="sales@team.test",
                    to_address=KATE_ADDRESS,
                    body="Dear Kate, yes we do",
                    staff_id=staff["anna"].id,
                    outcome=LetterOutcome.QUEUED,
                    created_at=now,
                ),
                CallRecording(
                    provider="zadarma",
                    call_id="c1",
                    ref="c1-rec",
                    lead_id=lead_id,
                    duration=155,
                    created_at=now,
                ),
            ]
        )
        await session.commit()
    async with sessions() as session:
        person = await find_person(session, email=KATE_ADDRESS)
        erased = await erase_person(session, person, OPERATOR, now)
    assert erased.held == 1
    async with sessions() as session:
        letters = (await session.scalars(select(EmailLetter).order_by(EmailLetter.id))).all()
        recordings = await session.scalar(select(func.count()).select_from(CallRecording))
    assert [(letter.direction, letter.outcome) for letter in letters] == [
        ("in", "lead"),
        ("out", "failed"),
    ]
    assert letters[1].last_error == HELD
    assert {
        (letter.subject, letter.body, letter.from_address, letter.to_address) for letter in letters
    } == {(None, None, None, None)}
    assert recordings == 0
