"""End to end: an admin runs the team from Telegram — invite links, roles, skills, capacity,
deactivation — and everyone has /duty; supervisors and admins see /team.

Alex is the admin (English); Anna (English) and Boris (Russian) are managers, Sveta (Russian)
a supervisor. The clock stands at 05.01 12:00 Moscow time.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.common.clock import ManualClock
from bot.devtools.emulator import BotMessage, TelegramEmulator
from bot.team.staff import add_staff
from storage.db import SessionFactory
from storage.models import Invite, Lead, LeadEvent, LeadStatus, Role, Staff, Task
from tests.harness import ANNA, BORIS, STRANGER, SVETA, Intake, Phone, card_buttons

ALEX, CARL = 1004, 5001
LINK = re.compile(r"https://t\.me/leadbot_test_bot\?start=([A-Za-z0-9_-]+)")


@pytest.fixture
async def admin(
    sessions: SessionFactory,
    clock: ManualClock,
    staff: dict[str, Staff],
    emulator: TelegramEmulator,
) -> Staff:
    emulator.add_user(ALEX, "Alex", language_code="en")
    emulator.add_user(CARL, "Carl", language_code="en")
    async with sessions() as session:
        return await add_staff(session, ALEX, Role.ADMIN, "Alex", clock.now())


def _menu(emulator: TelegramEmulator, chat_id: int) -> list[str] | None:
    """The command menu Telegram shows in a private chat (None: the default one)."""
    commands = emulator.state.commands.get((f"chat_id={chat_id},type=chat", ""))
    return [c["command"] for c in commands] if commands is not None else None


async def _person(sessions: SessionFactory, telegram_id: int) -> Staff | None:
    async with sessions() as session:
        return await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))


async def _invite_link(emulator: TelegramEmulator, role: str = "manager") -> str:
    # the link's answer, not a "joined" note about an earlier link that may arrive meanwhile
    answer = await Phone(emulator, ALEX).write(f"/invite {role}", "https://t.me/")
    found = LINK.search(answer.text)
    assert found is not None, answer.text
    return found.group(1)


async def _page(emulator: TelegramEmulator, staff_id: int) -> BotMessage:
    """Alex opens /staff and presses a person: the list message becomes their page."""
    alex = Phone(emulator, ALEX)
    listing = await alex.write("/staff")
    await alex.press(listing, f"staff:open:{staff_id}")
    return alex.now(listing)


async def test_a_stranger_opens_an_invite_link_and_works_as_a_manager(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory, admin: Staff
) -> None:
    alex, newcomer = Phone(emulator, ALEX), Phone(emulator, STRANGER)
    answer = await alex.write("/invite manager")
    assert answer.text.startswith("🔗 Invite link for a manager:\nhttps://t.me/leadbot_test_bot")
    assert "It works once, until 7 Jan 12:00 (Europe/Moscow)" in answer.text
    token = LINK.search(answer.text).group(1)  # type: ignore[union-attr]
    assert len(token) <= 64

    before = len(alex.messages())
    welcome = await newcomer.write(f"/start {token}")
    assert welcome.text.startswith("🎉 Welcome to the team!\n👋 Stranger, you are a manager.")
    assert "You are on duty: new leads arrive here as cards." in welcome.text
    told = await alex.next_message(before, "joined")
    assert told.text == "✅ Stranger opened your invite link and joined the team as a manager."
    manager_menu = ["leads", "find", "report", "channel", "duty", "cancel"]
    await emulator.wait_for(lambda: _menu(emulator, STRANGER) == manager_menu)
    person = await _person(sessions, STRANGER)
    assert person is not None and (person.role, person.is_active) == (Role.MANAGER, True)

    await intake.post({"phone": "+79001234567", "name": "Ivan"})
    card = await newcomer.next_message(1, "Lead #1")
    taken = await newcomer.press(card, "lead:take")
    assert taken["text"].startswith("Lead #1 is yours")


async def test_an_expired_link_is_refused(
    emulator: TelegramEmulator,
    app: object,
    sessions: SessionFactory,
    admin: Staff,
    clock: ManualClock,
) -> None:
    token = await _invite_link(emulator)
    clock.advance(timedelta(hours=48, minutes=1))
    refused = await Phone(emulator, STRANGER).write(f"/start {token}")
    assert refused.text == (
        "⌛ This invite link has expired. Ask the admin who sent it for a new one."
    )
    assert await _person(sessions, STRANGER) is None


async def test_a_link_works_once_and_its_user_opening_it_again_is_just_greeted(
    emulator: TelegramEmulator, app: object, sessions: SessionFactory, admin: Staff
) -> None:
    token = await _invite_link(emulator, "supervisor")
    joined = await Phone(emulator, STRANGER).write(f"/start {token}")
    assert "👋 Stranger, you are a supervisor." in joined.text
    second = await Phone(emulator, CARL).write(f"/start {token}")
    assert second.text.startswith("🔒 This invite link has already been used")
    assert await _person(sessions, CARL) is None
    again = await Phone(emulator, STRANGER).write(f"/start {token}")
    assert again.text.startswith("👋 Stranger, you are a supervisor.")  # no second welcome
    # Anna is staff already: a link does not change her role and stays for someone new
    fresh = await _invite_link(emulator, "supervisor")
    anna = await Phone(emulator, ANNA).write(f"/start {fresh}")
    assert anna.text.startswith("👋 Anna, you are already on the team as a manager")
    carl = await Phone(emulator, CARL).write(f"/start {fresh}")
    assert "you are a supervisor" in carl.text


async def test_a_forged_link_is_refused_and_other_start_payloads_are_a_plain_start(
    emulator: TelegramEmulator, app: object, sessions: SessionFactory, admin: Staff
) -> None:
    stranger = Phone(emulator, STRANGER)
    forged = await stranger.write("/start " + "A" * 32)
    assert forged.text.startswith("🤷 This invite link is not valid.")
    plain = await stranger.write("/start promo")
    assert plain.text.startswith("Hello! This is the sales team's bot.")
    assert await _person(sessions, STRANGER) is None


async def test_invite_needs_an_admin_and_a_role(
    emulator: TelegramEmulator, app: object, sessions: SessionFactory, admin: Staff
) -> None:
    anna, alex = Phone(emulator, ANNA), Phone(emulator, ALEX)
    assert (await anna.write("/invite manager")).text == "🔒 Only an admin can do this."
    assert (await anna.write("/staff")).text == "🔒 Only an admin can do this."
    for wrong in ("/invite", "/invite admin", "/invite boss"):
        usage = await alex.write(wrong)
        assert usage.text.startswith("🔗 Who is the link for? Send /invite manager or /invite")
        assert "The link works once, for 48 h." in usage.text
    russian = await Phone(emulator, BORIS).write("/invite менеджер")
    assert russian.text == "🔒 Это может сделать только администратор."
    async with sessions() as session:
        assert list((await session.scalars(select(Invite))).all()) == []


async def test_an_admin_changes_a_role_and_the_person_is_told_and_gets_its_menu(
    emulator: TelegramEmulator,
    app: object,
    sessions: SessionFactory,
    admin: Staff,
    staff: dict[str, Staff],
) -> None:
    anna, alex = Phone(emulator, ANNA), Phone(emulator, ALEX)
    await anna.write("/start")
    listing = await alex.write("/staff")
    assert listing.text.splitlines()[:5] == [
        "👥 Staff (4)",
        "🟢 Alex — admin",
        "🟢 Sveta — supervisor",
        "🟢 Anna — manager",
        "🟢 Boris — manager",
    ]
    assert [t for t, _ in card_buttons(listing)] == [
        "Alex · admin",
        "Sveta · supervisor",
        "Anna · manager",
        "Boris · manager",
    ]
    anna_id = staff["anna"].id
    await alex.press(listing, f"staff:open:{anna_id}")
    page = alex.now(listing)
    assert page.text.startswith("👤 Anna — manager\n🟢 on duty\n📂 Open leads: 0")
    assert [t for t, _ in card_buttons(page)] == [
        "👔 Make supervisor",
        "🔑 Make admin",
        "🛠 Skills",
        "📦 Capacity",
        "🚫 Deactivate",
        "« All staff",
    ]

    before = len(anna.messages())
    done = await alex.press(page, f"staffrole:{anna_id}:supervisor")
    assert done["text"] == "Anna is now a supervisor."
    assert alex.now(listing).text.startswith("✅ Anna is now a supervisor.\n\n👤 Anna — supervisor")
    told = await anna.next_message(before, "made you")
    assert told.text.startswith("🔑 Alex made you a supervisor.")
    await emulator.wait_for(lambda: "team" in (_menu(emulator, ANNA) or []))
    person = await _person(sessions, ANNA)
    assert person is not None and person.role == Role.SUPERVISOR
    team = await anna.write("/team")
    assert team.text.startswith("👥 Team · 5 Jan")

    await alex.press(listing, "staff:list:0")
    assert "Anna — supervisor" in alex.now(listing).text


async def test_deactivation_returns_open_leads_to_the_pool_and_stops_the_persons_buttons(
    emulator: TelegramEmulator,
    intake: Intake,
    sessions: SessionFactory,
    admin: Staff,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    anna, boris, alex = Phone(emulator, ANNA), Phone(emulator, BORIS), Phone(emulator, ALEX)
    for person in (anna, boris):
        await person.write("/start")
    cards = []
    for number in (1, 2):
        await intake.post({"phone": f"+7900123456{number}"})
        card = await anna.next_message(1, f"Lead #{number}")
        await anna.press(card, "lead:take")
        cards.append(await anna.until(card, "In work — yours"))
    await anna.press(cards[1], "lead:callback")
    await anna.press(cards[1], "when:2:2h")  # an open call-back task on lead 2
    boris_card = await boris.next_message(1, "Лид #1")
    await boris.until(boris_card, "взял(а) Anna")
    async with sessions() as session:  # Carl joins after the leads came: he has no card yet
        await add_staff(session, CARL, Role.MANAGER, "Carl", clock.now())
    carl = Phone(emulator, CARL)
    await carl.write("/start")

    anna_id = staff["anna"].id
    page = await _page(emulator, anna_id)
    assert "📂 Open leads: 2" in page.text
    await alex.press(page, f"staff:off:{anna_id}")
    question = alex.now(page)
    assert question.text.endswith(
        "❓ Deactivate Anna? They stop being staff at once, and their 2 open leads go back to "
        "the pool."
    )
    assert [t for t, _ in card_buttons(question)] == ["🚫 Yes, deactivate", "« Back"]
    before = len(anna.messages())
    done = await alex.press(page, f"staff:off_yes:{anna_id}")
    assert done["text"] == "Anna is deactivated; 2 leads went back to the pool."
    assert alex.now(page).text.startswith(
        "🚫 Anna is deactivated; leads #1, #2 went back to the pool."
    )

    told = await anna.next_message(before, "deactivated")
    assert "Your open leads #1, #2 went back to the pool" in told.text
    await emulator.wait_for(lambda: _menu(emulator, ANNA) is None)
    refreshed = await boris.until(boris_card, "🆕 Новый")
    assert "lead:take:1" in [data for _, data in card_buttons(refreshed)]
    for number in (1, 2):
        await carl.next_message(1, f"Lead #{number}")
    stale = await anna.press_data(cards[0], "lead:note:1")
    assert stale["text"] == "This button is for the sales team only."

    async with sessions() as session:
        leads = list((await session.scalars(select(Lead).order_by(Lead.id))).all())
        events = (await session.scalars(select(LeadEvent.kind).order_by(LeadEvent.id))).all()
        open_tasks = (await session.scalars(select(Task).where(Task.done_at.is_(None)))).all()
    assert [(lead.status, lead.owner_id) for lead in leads] == [(LeadStatus.NEW, None)] * 2
    assert list(events).count("returned_to_pool") == 2 and list(open_tasks) == []
    taken = await boris.press(refreshed, "lead:take")
    assert taken["text"].startswith("Лид #1 ваш")


async def test_an_admin_cannot_deactivate_or_demote_themself_and_others_cannot_press(
    emulator: TelegramEmulator, app: object, sessions: SessionFactory, admin: Staff
) -> None:
    alex = Phone(emulator, ALEX)
    page = await _page(emulator, admin.id)
    assert [t for t, _ in card_buttons(page)] == ["« All staff"]
    for forged in (
        f"staff:off:{admin.id}",
        f"staff:off_yes:{admin.id}",
        f"staffrole:{admin.id}:manager",
    ):
        answer = await alex.press_data(page, forged)
        assert answer["text"].startswith("You cannot deactivate yourself or take away your own")
        assert answer["show_alert"]
    person = await _person(sessions, ALEX)
    assert person is not None and (person.role, person.is_active) == (Role.ADMIN, True)

    sveta = Phone(emulator, SVETA)  # a supervisor's forged presses are refused
    greeting = await sveta.write("/start")
    for forged in ("staff:open:1", "staff:off_yes:1", "staffrole:1:admin", "staff:skills:1"):
        answer = await sveta.press_data(greeting, forged)
        assert answer["text"] == "Это может сделать только администратор."
    assert (await _person(sessions, ANNA)).is_active  # type: ignore[union-attr]


async def test_skills_and_capacity_are_typed_checked_and_saved(
    emulator: TelegramEmulator,
    app: object,
    sessions: SessionFactory,
    admin: Staff,
    staff: dict[str, Staff],
) -> None:
    alex = Phone(emulator, ALEX)
    anna_id = staff["anna"].id
    page = await _page(emulator, anna_id)
    ask = await alex.press_for_reply(page, f"staff:skills:{anna_id}", "Skills of Anna")
    assert ask.text.startswith("🛠 Skills of Anna (now: none).")
    wrong = await alex.write("senior, <b>vip</b>")
    assert wrong.text.startswith("Tags hold letters, digits, “_” and “-” only")
    too_many = await alex.write(", ".join(f"tag{n}" for n in range(11)))
    assert too_many.text.startswith("That is more than 10 tags.")
    saved = await alex.write("Senior, Group  Tour, senior, VIP")
    assert saved.text.startswith("✅ Skills saved.")
    assert "🛠 Skills: senior, group_tour, vip" in saved.text
    assert (await _person(sessions, ANNA)).skills == ["senior", "group_tour", "vip"]  # type: ignore[union-attr]

    ask = await alex.press_for_reply(saved, f"staff:cap:{anna_id}", "Capacity of Anna")
    assert "(now: no limit)" in ask.text
    for wrong_number in ("0", "lots"):
        answer = await alex.write(wrong_number)
        assert answer.text.startswith("Send a whole number from 1 to 500, or - for no limit.")
    cancelled = await alex.write("/cancel")
    assert cancelled.text == "OK, cancelled: nothing was changed."
    assert (await _person(sessions, ANNA)).capacity is None  # type: ignore[union-attr]
    await alex.press_for_reply(saved, f"staff:cap:{anna_id}", "Capacity of Anna")
    saved = await alex.write("5")
    assert saved.text.startswith("✅ Capacity saved.") and "📦 Capacity: 5" in saved.text
    assert "📂 Open leads: 0 of 5" in saved.text
    assert (await _person(sessions, ANNA)).capacity == 5  # type: ignore[union-attr]


async def test_duty_alone_shows_the_status_and_its_buttons_switch_it(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    """Typing /duty to check one's status no longer stops the leads: it shows the status with
    On / Off buttons; the press switches it (re-checked: a deactivated person's press does
    nothing); /duty on and /duty off still set it."""
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    for person in (anna, boris):
        await person.write("/start")
    shown = await anna.write("/duty")
    assert shown.text.startswith("🟢 You are on duty: new leads arrive here as cards.")
    assert [text for text, _ in card_buttons(shown)] == ["• 🟢 On duty •", "⚪ Off duty"]
    assert (await _person(sessions, ANNA)).on_duty  # type: ignore[union-attr]

    await anna.press(shown, "duty:off")
    off = await anna.until(shown, "You are off duty")
    assert off.text.startswith("⚪ You are off duty: new leads are not sent to you.")
    assert [text for text, _ in card_buttons(off)] == ["🟢 On duty", "• ⚪ Off duty •"]
    assert not (await _person(sessions, ANNA)).on_duty  # type: ignore[union-attr]
    await intake.post({"phone": "+79001234561"})
    await boris.next_message(1, "Лид #1")
    assert not [m for m in anna.messages() if "Lead #" in (m.text or "")]

    await anna.press(shown, "duty:on")
    on = await anna.until(shown, "You are on duty")
    assert on.text.startswith("🟢 You are on duty: new leads arrive here as cards.")
    still = await anna.write("/duty on")
    assert still.text.startswith("🟢 You are on duty")
    await intake.post({"phone": "+79001234562"})
    await anna.next_message(1, "Lead #2")
    assert [m.text.splitlines()[0] for m in anna.messages() if "Lead #" in (m.text or "")][
        -1
    ] == "Lead #2 · website form"
    sveta = await Phone(emulator, SVETA).write("/duty off")
    assert sveta.text.startswith("⚪ Вы не на смене.")

    borises = await boris.write("/duty", "на смене")
    async with sessions() as session:
        person = await session.scalar(select(Staff).where(Staff.telegram_id == BORIS))
        assert person is not None and person.on_duty
        person.is_active = False
        await session.commit()
    refused = await boris.press(borises, "duty:off")
    assert refused["show_alert"] and "для сотрудников" in refused["text"]
    assert (await _person(sessions, BORIS)).on_duty  # type: ignore[union-attr]


async def test_team_shows_duty_open_leads_capacity_and_leads_taken_today(
    emulator: TelegramEmulator,
    intake: Intake,
    sessions: SessionFactory,
    admin: Staff,
    staff: dict[str, Staff],
    clock: ManualClock,
) -> None:
    anna, boris, alex = Phone(emulator, ANNA), Phone(emulator, BORIS), Phone(emulator, ALEX)
    for person in (anna, boris):
        await person.write("/start")

    async def take(phone: Phone, number: int, marker: str) -> None:
        await intake.post({"phone": f"+7900123456{number}"})
        card = await phone.next_message(1, f"{marker} #{number}")
        await phone.press(card, "lead:take")

    await take(boris, 1, "Лид")  # 12:00 Moscow on 05.01
    clock.advance(timedelta(hours=12, minutes=5))  # 00:05 on 06.01: a new day
    await take(anna, 2, "Lead")
    await take(anna, 3, "Lead")
    await boris.write("/duty off")
    page = await _page(emulator, staff["anna"].id)
    await alex.press_for_reply(page, f"staff:cap:{staff['anna'].id}", "Capacity of Anna")
    await alex.write("2")

    team = await alex.write("/team")
    assert team.text.splitlines() == [
        "👥 Team · 6 Jan · on duty: 1 of 2",
        "",
        "🟢 Anna",
        "📂 open: 2/2 — full · ✋ taken today: 2",
        "",
        "⚪ Boris (off duty)",
        "📂 open: 1 · ✋ taken today: 0",
    ]
    assert "<b>Anna</b>" in team.source_text
    sveta = await Phone(emulator, SVETA).write("/team")
    assert sveta.text.startswith("👥 Команда · 06.01 · на смене: 1 из 2")
    refused = await anna.write("/team")
    assert refused.text == "🔒 Only supervisors and admins see the team."


async def test_a_lead_that_waited_for_someone_on_duty_reaches_the_manager_who_comes_on_duty(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory
) -> None:
    anna, boris = Phone(emulator, ANNA), Phone(emulator, BORIS)
    for person in (anna, boris):
        await person.write("/duty off")
    await intake.post({"phone": "+79001234561"})
    await Phone(emulator, SVETA).next_message(0, "Лид #1")  # the supervisor sees it meanwhile
    assert not [m for m in anna.messages() if "Lead #" in (m.text or "")]
    on = await anna.write("/duty on")
    assert on.text.startswith("🟢 You are on duty")
    card = await anna.next_message(1, "Lead #1")
    assert "lead:take:1" in [data for _, data in card_buttons(card)]
    async with sessions() as session:
        lead = await session.get(Lead, 1)
    assert lead is not None and lead.waiting_since is None


async def test_an_unknown_command_or_free_text_from_staff_gets_their_commands(
    emulator: TelegramEmulator, intake: Intake, sessions: SessionFactory, admin: Staff
) -> None:
    """Staff who type something the bot does not know are not met with silence: each role is
    shown its own commands, as the menu has them."""
    anna, sveta, alex = Phone(emulator, ANNA), Phone(emulator, SVETA), Phone(emulator, ALEX)
    report = await anna.write("/stats")  # no such command
    assert report.text.startswith("ℹ️ I did not get that. Your commands (manager;")
    assert "/leads — Lead lists" in report.text and "/duty — " in report.text
    assert "/team" not in report.text and "/invite" not in report.text
    assert "reply to their card" in report.text

    chat = await sveta.write("как у нас дела?")
    assert chat.text.startswith("ℹ️ Не понял. Ваши команды (руководитель;")
    assert "/team — " in chat.text and "/merge — " in chat.text and "/invite" not in chat.text

    helped = await alex.write("/help")
    assert helped.text.startswith("ℹ️ I did not get that. Your commands (admin;")
    assert "/invite — " in helped.text and "/staff — " in helped.text
    async with sessions() as session:  # nobody's words became a lead
        assert await session.scalar(select(Lead.id)) is None
