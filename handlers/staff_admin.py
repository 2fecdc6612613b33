"""Admins manage the team in Telegram: /invite links, and /staff — a person's role, skills,
capacity, deactivation. Every press is authorised again: the presser must still be an active
admin (re-read per update) and the person still active staff."""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import LOCALES, labels, local_time, render, render_alert
from bot.config import AppConfig
from bot.team.invites import INVITABLE, create_invite
from bot.team.overview import TeamMember, active_members, member_overview
from bot.team.staff import (
    MAX_CAPACITY,
    MAX_SKILL_LENGTH,
    MAX_SKILLS,
    StaffRefusal,
    UnreadableAnswer,
    deactivate_staff,
    read_capacity,
    read_skills,
    set_capacity,
    set_role,
    set_skills,
)
from handlers.card.answers import card_message
from handlers.errors import refuse_staff_change, unchanged_or_gone
from handlers.filters import IsAdmin, IsStaff
from handlers.keyboards.staff import (
    StaffAction,
    StaffButton,
    StaffRoleButton,
    all_staff_keyboard,
    confirm_deactivate_keyboard,
    staff_list_keyboard,
    staff_page_keyboard,
)
from handlers.menu import refresh_menu
from storage.models import Role, Staff

LIMITS = {"max_skills": MAX_SKILLS, "max_length": MAX_SKILL_LENGTH, "max_capacity": MAX_CAPACITY}

ADMIN_PAGES = frozenset(
    {
        StaffAction.LIST,
        StaffAction.OPEN,
        StaffAction.DEACTIVATE,
        StaffAction.SKILLS,
        StaffAction.CAPACITY,
    }
)


class StaffInput(StatesGroup):
    """An admin types a person's skills or capacity; FSM data holds `staff_id`."""

    skills = State()
    capacity = State()


def _invite_role(args: str | None) -> Role | None:
    """`/invite manager`, `/invite supervisor` (or the role's name in either language)."""
    word = (args or "").strip().lower()
    for role in INVITABLE:
        if word in {role.value, *(labels(locale)["roles"][role.value] for locale in LOCALES)}:
            return role
    return None


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Turn the message the press came from into `text` (the list, a page, a question)."""
    message = card_message(query)
    if message is None:
        return
    with unchanged_or_gone():  # pressed twice: the message already says this
        await message.edit_text(text, reply_markup=markup)


def _page(member: TeamMember, locale: str, notice: str | None = None, confirm: bool = False) -> str:
    """A person's page: role, duty, open leads, skills, capacity (and a notice or question)."""
    return render("staff_page.html.j2", locale, member=member, notice=notice, confirm=confirm)


def staff_cancel_router() -> Router:
    """/cancel in a skills or capacity dialogue; included before the lead dialogues' /cancel
    (which speaks of a lead), while the rest of /staff comes after the lead lists, so their
    menu buttons still work while an answer is awaited here."""
    router = Router(name="staff_cancel")

    @router.message(Command("cancel"), StateFilter(StaffInput.skills, StaffInput.capacity))
    async def cancel(message: Message, state: FSMContext, locale: str) -> None:
        await state.clear()
        await message.answer(render("staff_input_cancelled.html.j2", locale))

    return router


def staff_admin_router() -> Router:
    router = Router(name="staff_admin")
    router.message.filter(IsStaff())
    router.callback_query.filter(IsStaff())

    @router.message(Command("invite"), IsAdmin())
    async def invite(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        bot: Bot,
    ) -> None:
        role = _invite_role(command.args)
        ttl = config.staff.invite_ttl
        if role is None:
            minutes = max(1, int(ttl.total_seconds() // 60))
            await message.answer(render("invite_usage.html.j2", locale, ttl_minutes=minutes))
            return
        created = await create_invite(session, staff, role, clock.now(), ttl)
        me = await bot.me()
        await message.answer(
            render(
                "invite_created.html.j2",
                locale,
                role=role.value,
                zone=config.timezone,
                link=f"https://t.me/{me.username}?start={created.token}",
                expires=local_time(created.expires_at, config.zone, locale),
            )
        )

    @router.message(Command("staff"), IsAdmin())
    async def staff_list(
        message: Message, session: AsyncSession, staff: Staff, locale: str
    ) -> None:
        people = await active_members(session)
        await message.answer(
            render("staff_list.html.j2", locale, people=people),
            reply_markup=staff_list_keyboard(people, locale),
        )

    @router.callback_query(StaffButton.filter(F.action == StaffAction.LIST), IsAdmin())
    async def back_to_list(
        query: CallbackQuery, session: AsyncSession, staff: Staff, locale: str
    ) -> None:
        people = await active_members(session)
        await _show(
            query,
            render("staff_list.html.j2", locale, people=people),
            staff_list_keyboard(people, locale),
        )
        await query.answer()

    @router.callback_query(
        StaffButton.filter(F.action.in_({StaffAction.OPEN, StaffAction.DEACTIVATE})), IsAdmin()
    )
    async def open_page(
        query: CallbackQuery,
        callback_data: StaffButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
    ) -> None:
        """A person's page; Deactivate shows it again with the question and Yes/Back."""
        member = await member_overview(session, callback_data.staff_id, clock.now(), config.zone)
        if member is None:
            await refuse_staff_change(query, StaffRefusal.NOT_FOUND, locale)
            return
        if callback_data.action is StaffAction.OPEN:
            await _show(query, _page(member, locale), staff_page_keyboard(member, staff.id, locale))
        elif member.staff_id == staff.id:
            await refuse_staff_change(query, StaffRefusal.SELF, locale)
            return
        else:
            await _show(
                query,
                _page(member, locale, confirm=True),
                confirm_deactivate_keyboard(member.staff_id, locale),
            )
        await query.answer()

    @router.callback_query(StaffButton.filter(F.action == StaffAction.CONFIRM))
    async def deactivate(
        query: CallbackQuery,
        callback_data: StaffButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        bot: Bot,
        leads_chat_id: int | None = None,
    ) -> None:
        result = await deactivate_staff(
            session, callback_data.staff_id, staff, clock.now(), leads_chat_id, config
        )
        if result.refusal is not None or result.staff is None:
            await refuse_staff_change(query, result.refusal or StaffRefusal.NOT_FOUND, locale)
            return
        gone = result.staff
        await refresh_menu(bot, gone, config.locale)
        text = render(
            "staff_deactivated_page.html.j2", locale, person=gone.name, returned=result.returned
        )
        await _show(query, text, all_staff_keyboard(locale))
        await query.answer(
            render_alert(
                "staff_done",
                locale,
                what="deactivated",
                person=gone.name,
                count=len(result.returned),
            )
        )

    @router.callback_query(StaffRoleButton.filter())
    async def change_role(
        query: CallbackQuery,
        callback_data: StaffRoleButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        bot: Bot,
    ) -> None:
        result = await set_role(
            session, callback_data.staff_id, callback_data.role, staff, clock.now()
        )
        if result.refusal is not None or result.staff is None:
            await refuse_staff_change(query, result.refusal or StaffRefusal.NOT_FOUND, locale)
            return
        if result.changed:
            await refresh_menu(bot, result.staff, config.locale)
        member = await member_overview(session, callback_data.staff_id, clock.now(), config.zone)
        if member is not None:
            await _show(
                query,
                _page(member, locale, notice="role"),
                staff_page_keyboard(member, staff.id, locale),
            )
        await query.answer(
            render_alert(
                "staff_done",
                locale,
                what="role",
                person=result.staff.name,
                role=callback_data.role.value,
            )
        )

    @router.callback_query(
        StaffButton.filter(F.action.in_({StaffAction.SKILLS, StaffAction.CAPACITY})), IsAdmin()
    )
    async def ask_value(
        query: CallbackQuery,
        callback_data: StaffButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        member = await member_overview(session, callback_data.staff_id, clock.now(), config.zone)
        if member is None:
            await refuse_staff_change(query, StaffRefusal.NOT_FOUND, locale)
            return
        skills = callback_data.action is StaffAction.SKILLS
        await query.answer()
        if message := card_message(query):
            what = "skills" if skills else "capacity"
            await message.answer(
                render("staff_ask.html.j2", locale, member=member, what=what, **LIMITS)
            )
            # only once the question is in the chat does the dialogue wait for its answer
            await state.set_state(StaffInput.skills if skills else StaffInput.capacity)
            await state.set_data({"staff_id": member.staff_id})

    @router.message(Command("invite", "staff"))
    async def admin_only(message: Message, locale: str) -> None:
        await message.answer(render("admin_only.html.j2", locale))

    # Confirm and a role change are re-checked by the core (which also refuses one's own
    # demotion); the other pages are an admin's only
    @router.callback_query(StaffButton.filter(F.action.in_(ADMIN_PAGES)))
    async def admin_only_press(query: CallbackQuery, locale: str) -> None:
        await refuse_staff_change(query, StaffRefusal.NOT_ADMIN, locale)

    # commands typed mid-dialogue run as usual (the dialogue waits); anything else is the answer
    answer_text = F.text & ~F.text.startswith("/")

    @router.message(StateFilter(StaffInput.skills, StaffInput.capacity), answer_text)
    async def save_value(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        skills = await state.get_state() == StaffInput.skills.state
        staff_id = int((await state.get_data())["staff_id"])
        text, now = message.text or "", clock.now()
        try:
            if skills:
                result = await set_skills(session, staff_id, read_skills(text), staff, now)
            else:
                result = await set_capacity(session, staff_id, read_capacity(text), staff, now)
        except UnreadableAnswer as problem:  # the dialogue stays open for another try
            await message.answer(
                render("staff_unreadable.html.j2", locale, problem=problem.problem, **LIMITS)
            )
            return
        await state.clear()
        if result.refusal is not None:
            refusal = render_alert("staff_refusal", locale, reason=result.refusal.value)
            await message.answer(html.quote(refusal))
            return
        member = await member_overview(session, staff_id, now, config.zone)
        if member is not None:
            page = _page(member, locale, notice="skills" if skills else "capacity")
            await message.answer(page, reply_markup=staff_page_keyboard(member, staff.id, locale))

    return router
