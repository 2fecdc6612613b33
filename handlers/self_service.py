"""Clients help themselves: a plain /start shows the menu (Leave a request, My request, Still
waiting?); the request is left with buttons (a service, a time slot) and the phone shared with
one button. Every press is checked again by the core (bot/self_service): a slot that has
passed, a service no longer offered, a forged or closed request get a clear answer. Staff
never land here (their /start is handlers/start.py's)."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import local_time, render
from bot.config import AppConfig
from bot.intake.client_pace import START_TAG
from bot.self_service.manage import cancel_request, move_call, nudge_team
from bot.self_service.requests import (
    Outcome,
    SelfRefusal,
    check_picks,
    leave_request,
    my_request,
    their_request,
)
from bot.self_service.slots import free_slots, minute_slot
from handlers.keyboards.client import share_phone_keyboard
from handlers.keyboards.self_service import (
    MenuItem,
    RequestAction,
    RequestButton,
    SelfMenu,
    ServicePick,
    SlotPick,
    confirm_cancel_keyboard,
    menu_keyboard,
    request_keyboard,
    services_keyboard,
    slots_keyboard,
)
from storage.models import Staff

SERVICE, AT = "self_service", "self_at"  # the dialogue's data: the picks so far


# the name is stored with open dialogues (FSM state "RequestPicks:phone"): it stays
class RequestPicks(StatesGroup):
    phone = State()  # the service and the time are picked; waiting for the shared phone


def _is_client(event: Message | CallbackQuery, staff: Staff | None = None) -> bool:
    chat = event.chat if isinstance(event, Message) else (event.message and event.message.chat)
    return staff is None and chat is not None and chat.type == "private"


def _at(view_at: datetime | None, config: AppConfig, locale: str) -> str | None:
    return local_time(view_at, config.zone, locale) if view_at else None


def _refusal_text(outcome: Outcome, config: AppConfig, locale: str) -> str:
    assert outcome.refusal is not None
    view = outcome.view
    at = outcome.next_at if outcome.refusal is SelfRefusal.TOO_SOON else (view and view.call_at)
    return render(
        "self_refused.html.j2",
        locale,
        reason=outcome.refusal.value,
        view=view,
        at=_at(at, config, locale),
    )


async def _say(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """The answer to a press, as a new message in the client's chat (their history keeps it);
    the press itself is answered by EveryPressAnswered."""
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.answer(text, reply_markup=markup)


async def _refuse(query: CallbackQuery, outcome: Outcome, config: AppConfig, locale: str) -> None:
    markup = None
    if outcome.refusal is SelfRefusal.ALREADY_OPEN and outcome.lead_id:
        markup = request_keyboard(outcome.lead_id, locale)
    await _say(query, _refusal_text(outcome, config, locale), markup)


async def _offer_slots(
    query: CallbackQuery,
    config: AppConfig,
    locale: str,
    now: datetime,
    template: str,
    lead_id: int = 0,
    code: str = "",
    **context: object,
) -> None:
    slots = free_slots(now, config)
    if not slots:  # working hours shorter than a slot: nothing to pick
        await _say(query, render("self_refused.html.j2", locale, reason="no_slots"))
        return
    markup = slots_keyboard(slots, now, config, locale, lead_id, code)
    await _say(query, render(template, locale, **context), markup)


def self_service_router() -> Router:
    router = Router(name="self_service")
    router.message.filter(_is_client)
    router.callback_query.filter(_is_client)

    @router.message(CommandStart(deep_link=False), F.text.regexp(r"^/start(@\w+)?\s*$"))
    async def menu(message: Message, state: FSMContext, locale: str) -> None:
        """A plain /start: the menu. It also ends a request half left (the picks are dropped;
        the client's pace and campaign data stay, as handlers/start.py keeps them)."""
        await state.set_state(None)
        await state.update_data({SERVICE: None, AT: None, START_TAG: None})
        await message.answer(
            render("self_menu.html.j2", locale), reply_markup=menu_keyboard(locale)
        )

    @router.callback_query(SelfMenu.filter(F.item == MenuItem.LEAVE))
    async def leave(
        query: CallbackQuery, session: AsyncSession, config: AppConfig, clock: Clock, locale: str
    ) -> None:
        now = clock.now()
        checked = await check_picks(session, query.from_user.id, None, None, now, config)
        if checked.refusal is SelfRefusal.ALREADY_OPEN:
            await _refuse(query, checked, config, locale)
            return
        if config.services:
            markup = services_keyboard(config, locale)
            await _say(query, render("self_pick_service.html.j2", locale), markup)
            return
        await _offer_slots(query, config, locale, now, "self_pick_slot.html.j2", service=None)

    @router.callback_query(ServicePick.filter())
    async def service_picked(
        query: CallbackQuery,
        callback_data: ServicePick,
        session: AsyncSession,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        now, code = clock.now(), callback_data.code
        checked = await check_picks(session, query.from_user.id, code, None, now, config)
        if not checked.ok:
            await _refuse(query, checked, config, locale)
            return
        service = config.service(code)
        assert service is not None
        await _offer_slots(
            query,
            config,
            locale,
            now,
            "self_pick_slot.html.j2",
            code=code,
            service=service.label(locale),
        )

    @router.callback_query(SlotPick.filter(F.lead_id == 0))
    async def slot_picked(
        query: CallbackQuery,
        callback_data: SlotPick,
        session: AsyncSession,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
        locale: str,
    ) -> None:
        now, code = clock.now(), callback_data.code or None
        at = minute_slot(callback_data.minute)
        checked = (
            await check_picks(session, query.from_user.id, code, at, now, config)
            if at is not None
            else Outcome(SelfRefusal.SLOT_GONE)
        )
        if not checked.ok or at is None:
            await _refuse(query, checked, config, locale)
            if checked.refusal is SelfRefusal.SLOT_GONE:  # the times free now, to pick again
                await _offer_slots(
                    query,
                    config,
                    locale,
                    now,
                    "self_pick_slot.html.j2",
                    code=code or "",
                    service=None,
                )
            return
        await state.set_state(RequestPicks.phone)
        await state.update_data({SERVICE: code, AT: at.isoformat()})
        text = render("self_ask_phone.html.j2", locale, at=_at(at, config, locale))
        if query.message is not None and not isinstance(query.message, InaccessibleMessage):
            await query.message.answer(text, reply_markup=share_phone_keyboard(locale))

    @router.message(StateFilter(RequestPicks.phone), F.contact | (F.text & ~F.text.startswith("/")))
    async def phone_shared(
        message: Message,
        session: AsyncSession,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
        locale: str,
        leads_chat_id: int | None = None,
    ) -> None:
        assert message.from_user is not None
        user = message.from_user
        if message.contact is not None and message.contact.user_id != user.id:
            await message.answer(render("client_own_phone_only.html.j2", locale))
            return
        raw = message.contact.phone_number if message.contact else (message.text or "")
        data = await state.get_data()
        at = datetime.fromisoformat(str(data.get(AT)))
        outcome = await leave_request(
            session,
            user.id,
            user.full_name,
            data.get(SERVICE),
            at,
            raw,
            clock.now(),
            config,
            leads_chat_id,
        )
        if outcome.refusal is SelfRefusal.BAD_PHONE and message.contact is None:
            # words that are not a number: the button is the way (the dialogue stays open)
            await message.answer(
                render("self_phone_only.html.j2", locale), reply_markup=share_phone_keyboard(locale)
            )
            return
        await state.set_state(None)
        await state.update_data({SERVICE: None, AT: None})
        if not outcome.ok:
            await message.answer(
                _refusal_text(outcome, config, locale), reply_markup=ReplyKeyboardRemove()
            )
            return
        service = config.service(str(data.get(SERVICE) or ""))
        text = render(
            "self_received.html.j2",
            locale,
            lead_id=outcome.lead_id,
            service=service.label(locale) if service else None,
            at=_at(at, config, locale),
        )
        await message.answer(text, reply_markup=ReplyKeyboardRemove())

    @router.callback_query(SelfMenu.filter(F.item == MenuItem.MINE))
    async def mine(
        query: CallbackQuery, session: AsyncSession, config: AppConfig, clock: Clock, locale: str
    ) -> None:
        outcome = await my_request(session, query.from_user.id, clock.now())
        await _show_request(query, outcome, config, locale)

    @router.callback_query(SelfMenu.filter(F.item == MenuItem.NUDGE))
    async def nudge_from_menu(
        query: CallbackQuery, session: AsyncSession, config: AppConfig, clock: Clock, locale: str
    ) -> None:
        now = clock.now()
        found = await my_request(session, query.from_user.id, now)
        if found.lead_id is None:
            await _refuse(query, found, config, locale)
            return
        await _nudge(query, session, found.lead_id, config, now, locale)

    @router.callback_query(RequestButton.filter())
    async def on_request(
        query: CallbackQuery,
        callback_data: RequestButton,
        session: AsyncSession,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        now, lead_id, action = clock.now(), callback_data.lead_id, callback_data.action
        user_id = query.from_user.id
        if action is RequestAction.NUDGE:
            await _nudge(query, session, lead_id, config, now, locale)
            return
        if action is RequestAction.CANCEL_YES:
            done = await cancel_request(session, user_id, lead_id, now, config)
            if not done.ok:
                await _refuse(query, done, config, locale)
                return
            await _say(query, render("self_cancelled.html.j2", locale, lead_id=lead_id))
            return
        found = await their_request(session, user_id, lead_id, now)
        if not found.ok:
            await _refuse(query, found, config, locale)
        elif action is RequestAction.MOVE:
            await _offer_slots(
                query, config, locale, now, "self_pick_move.html.j2", lead_id=lead_id
            )
        elif action is RequestAction.CANCEL:
            text = render("self_confirm_cancel.html.j2", locale, lead_id=lead_id)
            await _say(query, text, confirm_cancel_keyboard(lead_id, locale))
        else:  # KEEP
            await _say(query, render("self_kept.html.j2", locale))

    @router.callback_query(SlotPick.filter(F.lead_id > 0))
    async def call_moved(
        query: CallbackQuery,
        callback_data: SlotPick,
        session: AsyncSession,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        now, lead_id = clock.now(), callback_data.lead_id
        at = minute_slot(callback_data.minute)
        moved = (
            await move_call(session, query.from_user.id, lead_id, at, now, config)
            if at is not None
            else Outcome(SelfRefusal.SLOT_GONE, lead_id)
        )
        if not moved.ok or at is None:
            await _refuse(query, moved, config, locale)
            if moved.refusal is SelfRefusal.SLOT_GONE:
                await _offer_slots(
                    query, config, locale, now, "self_pick_move.html.j2", lead_id=lead_id
                )
            return
        await _say(query, render("self_moved.html.j2", locale, at=_at(at, config, locale)))

    return router


async def _show_request(
    query: CallbackQuery, outcome: Outcome, config: AppConfig, locale: str
) -> None:
    if outcome.view is None or outcome.lead_id is None:
        await _refuse(query, outcome, config, locale)
        return
    text = render(
        "self_request.html.j2",
        locale,
        view=outcome.view,
        at=_at(outcome.view.call_at, config, locale),
    )
    await _say(query, text, request_keyboard(outcome.lead_id, locale))


async def _nudge(
    query: CallbackQuery,
    session: AsyncSession,
    lead_id: int,
    config: AppConfig,
    now: datetime,
    locale: str,
) -> None:
    nudged = await nudge_team(session, query.from_user.id, lead_id, now, config)
    if not nudged.ok:
        await _refuse(query, nudged, config, locale)
        return
    await _say(query, render("self_nudged.html.j2", locale, lead_id=lead_id))
