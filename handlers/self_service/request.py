"""Leave a request: a service, a time slot, the phone shared with one button. Each press asks
the core again (check_picks): a request opened meanwhile, a service no longer offered, a slot
that has passed get a clear answer; the picks wait in the dialogue's data for the phone."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.config import AppConfig
from bot.self_service.requests import Outcome, SelfRefusal, check_picks, leave_request
from bot.self_service.slots import minute_slot
from handlers.keyboards.client import share_phone_keyboard
from handlers.keyboards.self_service import (
    MenuItem,
    SelfMenu,
    ServicePick,
    SlotPick,
    menu_keyboard,
    services_keyboard,
)
from handlers.self_service.replies import (
    is_client,
    offer_slots,
    refusal_text,
    refuse,
    say,
    shown_time,
)

SERVICE, AT = "self_service", "self_at"  # the dialogue's data: the picks so far


# the name is stored with open dialogues (FSM state "RequestPicks:phone"): it stays
class RequestPicks(StatesGroup):
    phone = State()  # the service and the time are picked; waiting for the shared phone


def request_router() -> Router:
    router = Router(name="self_service_request")
    router.message.filter(is_client)
    router.callback_query.filter(is_client)

    @router.callback_query(SelfMenu.filter(F.item == MenuItem.LEAVE))
    async def leave(
        query: CallbackQuery, session: AsyncSession, config: AppConfig, clock: Clock, locale: str
    ) -> None:
        now = clock.now()
        checked = await check_picks(session, query.from_user.id, None, None, now, config)
        if checked.refusal is SelfRefusal.ALREADY_OPEN:
            await refuse(query, checked, config, locale)
            return
        if config.services:
            markup = services_keyboard(config, locale)
            await say(query, render("self_pick_service.html.j2", locale), markup)
            return
        await offer_slots(query, config, locale, now, "self_pick_slot.html.j2", service=None)

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
            await refuse(query, checked, config, locale)
            return
        service = config.service(code)
        assert service is not None
        await offer_slots(
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
            await refuse(query, checked, config, locale)
            if checked.refusal is SelfRefusal.SLOT_GONE:  # the times free now, to pick again
                await offer_slots(
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
        text = render("self_ask_phone.html.j2", locale, at=shown_time(at, config, locale))
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
        if not isinstance(data.get(AT), str):  # the picks are gone (an older version's state)
            await state.set_state(None)
            await message.answer(
                render("self_menu.html.j2", locale), reply_markup=menu_keyboard(locale)
            )
            return
        at = datetime.fromisoformat(data[AT])
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
                refusal_text(outcome, config, locale), reply_markup=ReplyKeyboardRemove()
            )
            return
        service = config.service(str(data.get(SERVICE) or ""))
        text = render(
            "self_received.html.j2",
            locale,
            lead_id=outcome.lead_id,
            service=service.label(locale) if service else None,
            at=shown_time(at, config, locale),
        )
        await message.answer(text, reply_markup=ReplyKeyboardRemove())

    return router
