"""A manager's answer to a client who wrote by e-mail: which channel it takes, the headers
that keep it in the client's thread, and its queueing with the history event in one
transaction (bot/email/replies.py, bot/email/threads.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.common.clock import ManualClock
from bot.config import AppConfig
from bot.email.replies import answer_target, queue_email_reply
from bot.email.threads import bare_id, reply_subject, thread_references
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from bot.leads.actions import Refusal, take_lead
from storage.db import SessionFactory
from storage.models import TELEGRAM_SOURCE, EmailLetter, LeadEvent, Staff
from tests.email_leads import KATE_ADDRESS, KATE_MESSAGE_ID, TEAM_FROM, email_lead

KATE_TELEGRAM = 7001


async def _taken(sessions: SessionFactory, lead_id: int, anna: Staff, clock: ManualClock) -> None:
    async with sessions() as session:
        assert (await take_lead(session, lead_id, anna, clock.now())).ok


def test_the_subject_is_re_theirs_never_re_re() -> None:
    assert reply_subject("Delivery to Moscow?") == "Re: Delivery to Moscow?"
    assert reply_subject("Re: Delivery") == "Re: Delivery"
    assert reply_subject("RE: re:Re :  Delivery") == "Re: Delivery"
    assert reply_subject("Ответ: Доставка") == "Re: Доставка"
    assert reply_subject("Re[2]: Delivery") == "Re: Delivery"
    assert reply_subject("Reservation") == "Re: Reservation"  # a word, not a prefix
    assert reply_subject(None) == "Re:"
    # a header of its own cannot be started from the subject: CR/LF become spaces
    assert reply_subject("Hi\r\nBcc: all@victim.test") == "Re: Hi Bcc: all@victim.test"
    assert reply_subject("x" * 5000) == "Re: " + "x" * 500


def test_references_are_theirs_then_their_message_id_each_once() -> None:
    assert thread_references("<a@x>\r\n <b@y>", "c@z") == ["a@x", "b@y", "c@z"]
    assert thread_references(None, "c@z") == ["c@z"]
    assert thread_references("<c@z> <a@x>", "c@z") == ["c@z", "a@x"]
    many = " ".join(f"<{n}@x>" for n in range(40))
    kept = thread_references(many, "last@x")
    assert len(kept) == 20 and kept[0] == "0@x" and kept[-2:] == ["39@x", "last@x"]
    assert bare_id(" <CAF+1@mail.example.com> ") == "CAF+1@mail.example.com"
    assert bare_id("garbage") is None


async def test_an_email_lead_is_answered_by_email_in_the_thread_of_the_last_letter(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Kate wrote twice by e-mail: Anna's answer goes to her address, replying to the second
    letter; the `replied` event and the queued letter are written together, the letter with a
    Message-ID of ours on the team's domain."""
    anna = staff["anna"]
    lead_id = await email_lead(sessions, clock.now(), config, message_id="first@mail.example.com")
    clock.advance(timedelta(minutes=5))
    again = await email_lead(sessions, clock.now(), config, uid=2, subject="Re: Re: Delivery")
    assert again == lead_id
    await _taken(sessions, lead_id, anna, clock)

    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
        assert target.result.ok and target.by_email and target.chat_id is None
        assert target.address == KATE_ADDRESS
        assert target.letter is not None and target.letter.message_id == KATE_MESSAGE_ID
        letter = await queue_email_reply(
            session,
            lead_id,
            anna,
            target.letter,
            KATE_ADDRESS,
            "Yes, on Fridays",
            TEAM_FROM,
            clock.now(),
        )
    async with sessions() as session:
        out = await session.get(EmailLetter, letter.id)
        event = await session.scalar(select(LeadEvent).where(LeadEvent.kind == "replied"))
    assert out is not None and event is not None
    assert (out.direction, out.outcome, out.to_address) == ("out", "queued", KATE_ADDRESS)
    assert out.subject == "Re: Delivery"
    assert out.in_reply_to == KATE_MESSAGE_ID
    assert out.thread_refs == (
        "<first.1@team.test> <second.2@mail.example.com> <CAF+kate.1@mail.example.com>"
    )
    assert out.message_id.endswith("@team.test") and "<" not in out.message_id
    assert out.body == "Yes, on Fridays" and out.staff_id == anna.id
    assert event.data == {"text": "Yes, on Fridays", "email": KATE_ADDRESS}


async def test_a_client_in_both_channels_is_answered_where_they_wrote_last(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Kate wrote by e-mail, then to the bot (the same address, so the same lead): the answer
    goes to Telegram. She writes by e-mail again: it goes by e-mail."""
    anna = staff["anna"]
    lead_id = await email_lead(sessions, clock.now(), config)
    await _taken(sessions, lead_id, anna, clock)
    clock.advance(timedelta(minutes=1))
    in_telegram = LeadInput(
        source=TELEGRAM_SOURCE, name="Kate", email=KATE_ADDRESS, telegram_id=KATE_TELEGRAM
    )
    async with sessions() as session:
        [joined] = await intake_leads(session, [in_telegram], clock.now(), None, config)
    assert joined.lead_id == lead_id
    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
    assert target.result.ok and not target.by_email and target.chat_id == KATE_TELEGRAM

    clock.advance(timedelta(minutes=1))
    await email_lead(sessions, clock.now(), config, uid=2, message_id="third@mail.example.com")
    async with sessions() as session:
        target = await answer_target(session, lead_id, anna)
    assert target.by_email and target.letter is not None
    assert target.letter.message_id == "third@mail.example.com"


async def test_who_may_answer_is_the_same_rule_as_in_telegram(
    sessions: SessionFactory, clock: ManualClock, config: AppConfig, staff: dict[str, Staff]
) -> None:
    """Boris may not answer Anna's e-mail lead (nothing is queued); a lead without a letter or
    a Telegram chat (a web form's) has nowhere to answer."""
    lead_id = await email_lead(sessions, clock.now(), config)
    await _taken(sessions, lead_id, staff["anna"], clock)
    async with sessions() as session:
        target = await answer_target(session, lead_id, staff["boris"])
        assert target.result.refusal is Refusal.NOT_YOURS and not target.by_email
        form = LeadInput(source="web_form", name="Ivan", email="ivan@example.com")
        [web] = await intake_leads(session, [form], clock.now(), None, config)
    await _taken(sessions, web.lead_id, staff["anna"], clock)
    async with sessions() as session:
        target = await answer_target(session, web.lead_id, staff["anna"])
        assert target.result.refusal is Refusal.NOT_ALLOWED and not target.by_email
        count = await session.scalar(select(func.count()).select_from(EmailLetter))
    assert count == 1  # Kate's letter only: nothing was queued
