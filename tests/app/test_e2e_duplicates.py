"""Possible duplicates: the same name with a phone one slip apart is flagged on the card, and a
supervisor merges the two leads (history and contact move to the survivor, nothing deleted).
What counts as one slip apart is in tests/unit/test_intake_input.py."""

from __future__ import annotations

from sqlalchemy import select

from bot.devtools.emulator import TelegramEmulator
from storage.db import SessionFactory
from storage.models import Contact, Lead, LeadEvent, LeadStatus
from tests.harness import ANNA, BORIS, SVETA, Intake, Phone, card_buttons


async def _everyone_starts(emulator: TelegramEmulator) -> None:
    for who in (ANNA, BORIS, SVETA):
        await Phone(emulator, who).write("/start")


async def test_a_mistyped_phone_with_the_same_name_is_flagged_and_a_supervisor_merges_it(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    await _everyone_starts(emulator)
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    await intake.post({"name": "Ivan Petrov", "phone": "+79001234567", "message": "kitchen"})
    await intake.post({"name": "ivan  PETROV", "phone": "+79001234576", "message": "again"})
    await intake.post({"name": "Olga", "phone": "+79001234568"})  # similar phone, other name
    second = await anna.next_message(1, "Lead #2 ")
    assert "⚠️ Possible duplicate of #1" in second.text
    third = await anna.next_message(1, "Lead #3 ")
    assert "Possible duplicate" not in third.text
    assert [t for t, _ in card_buttons(second)] == [
        "✋ Take",
        "🚫 Refuse",
        "🗑 Junk",
    ]  # managers: no Merge

    found = await sveta.write("/find #2", "🔎")
    card = await sveta.press_for_reply(found, "open:2", "Лид #2")
    assert "⚠️ Возможно, дубль лида #1" in card.text
    assert [t for t, _ in card_buttons(card)][-1] == "🔗 Объединить"
    confirm = await sveta.press(card, "lead:merge:2")
    assert confirm["text"].startswith("Объединить лид #2 с #1?")
    assert await sveta.shows_buttons(card, ["✅ Объединить #2 с #1", "« Назад"])
    merged = await sveta.press(card, "merge:2:1")
    assert merged["text"] == "Лид #2 объединён с #1."
    shown = await anna.until(second, "🔗 Merged into #1")
    assert "🗑 Junk" in shown.text and card_buttons(shown) == []

    async with sessions() as session:
        loser, survivor = await session.get(Lead, 2), await session.get(Lead, 1)
        assert loser is not None and survivor is not None
        kinds = (
            await session.scalars(
                select(LeadEvent.kind).where(LeadEvent.lead_id == 1).order_by(LeadEvent.id)
            )
        ).all()
        contact = await session.get(Contact, loser.contact_id)
    assert (loser.status, loser.merged_into_id, loser.close_reason) == (
        LeadStatus.JUNK,
        1,
        "duplicate",
    )
    assert kinds == ["created", "created", "merged"]  # lead 2's history moved to lead 1
    assert loser.contact_id == survivor.contact_id and contact is not None
    assert contact.merged_into_id is None


async def test_merge_command_refuses_managers_bad_numbers_and_a_second_merge(
    emulator: TelegramEmulator, intake: Intake
) -> None:
    await _everyone_starts(emulator)
    await intake.post({"name": "A", "phone": "+79001110001"})
    await intake.post({"name": "B", "phone": "+79001110002"})
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    refused = await anna.write("/merge 2 1", "supervisor")
    assert refused.text == "Only a supervisor can do this."
    usage = await sveta.write("/merge 2", "/merge 12 34")
    assert usage.text.startswith("Чтобы объединить два лида")
    for bad, said in (
        ("/merge 2 2", "Кнопка устарела. Откройте карточку лида заново."),
        ("/merge 2 999", "Такого лида нет."),
        ("/merge x y", "Чтобы объединить два лида"),
    ):
        answer = await sveta.write(bad, said[:10])
        assert answer.text.startswith(said), bad
    done = await sveta.write("/merge #2 #1", "🔗")
    assert done.text.startswith("🔗 Лид #2 объединён с #1")
    again = await sveta.write("/merge 2 1", "Кнопка")
    assert again.text == "Кнопка устарела. Откройте карточку лида заново."


async def test_merge_refuses_to_merge_a_deal_away_and_keeps_a_refused_leads_status(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """/merge of a converted lead used to turn the deal into junk; now the supervisor is told
    a deal is not merged away (the deal stays a deal), and the other way round works. A lead
    already refused keeps its status and reason when merged: only an open lead is junked."""
    await _everyone_starts(emulator)
    for phone in ("+79001110001", "+79001110002", "+79001110003"):
        await intake.post({"name": "A", "phone": phone})
    async with sessions() as session:
        deal, refused = await session.get(Lead, 1), await session.get(Lead, 3)
        assert deal is not None and refused is not None
        deal.status = LeadStatus.CONVERTED
        refused.status, refused.close_reason = LeadStatus.REFUSED, "expensive"
        await session.commit()
    sveta = Phone(emulator, SVETA)
    answer = await sveta.write("/merge 1 2", "#1")
    assert answer.text == (
        "Лид #1 — сделка: сделку не объединяют с другим лидом. "
        "Объедините наоборот — другой лид с ней."
    )
    done = await sveta.write("/merge 2 1", "🔗")
    assert done.text.startswith("🔗 Лид #2 объединён с #1")
    done = await sveta.write("/merge 3 1", "🔗")
    assert done.text.startswith("🔗 Лид #3 объединён с #1")
    async with sessions() as session:
        leads = {
            lead.id: (lead.status, lead.close_reason, lead.merged_into_id)
            for lead in (await session.scalars(select(Lead))).all()
        }
    assert leads == {
        1: (LeadStatus.CONVERTED, None, None),
        2: (LeadStatus.JUNK, "duplicate", 1),
        3: (LeadStatus.REFUSED, "expensive", 1),
    }
