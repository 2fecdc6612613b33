"""The client's open request: My request (its status in plain words), move its call, cancel
it (asked to confirm), Still waiting?. Every press names the lead; the core checks it is the
presser's and still open."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.config import AppConfig
from bot.self_service.manage import cancel_request, move_call, nudge_team
from bot.self_service.requests import Outcome, SelfRefusal, my_request, their_request
from bot.self_service.slots import minute_slot
from handlers.keyboards.self_service import (
    MenuItem,
    RequestAction,
    RequestButton,
    SelfMenu,
    SlotPick,
    confirm_cancel_keyboard,
    request_keyboard,
)
from handlers.self_service.replies import is_client, offer_slots, refuse, say, shown_time


def manage_router() -> Router:
    router = Router(name="self_service_manage")
    router.callback_query.filter(is_client)

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
            await refuse(query, found, config, locale)
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
                await refuse(query, done, config, locale)
                return
            await say(query, render("self_cancelled.html.j2", locale, lead_id=lead_id))
            return
        found = await their_request(session, user_id, lead_id, now)
        if not found.ok:
            await refuse(query, found, config, locale)
        elif action is RequestAction.MOVE:
            await offer_slots(query, config, locale, now, "self_pick_move.html.j2", lead_id=lead_id)
        elif action is RequestAction.CANCEL:
            text = render("self_confirm_cancel.html.j2", locale, lead_id=lead_id)
            await say(query, text, confirm_cancel_keyboard(lead_id, locale))
        else:  # KEEP
            await say(query, render("self_kept.html.j2", locale))

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
            await refuse(query, moved, config, locale)
            if moved.refusal is SelfRefusal.SLOT_GONE:
                await offer_slots(
                    query, config, locale, now, "self_pick_move.html.j2", lead_id=lead_id
                )
            return
        await say(query, render("self_moved.html.j2", locale, at=shown_time(at, config, locale)))

    return router


async def _show_request(
    query: CallbackQuery, outcome: Outcome, config: AppConfig, locale: str
) -> None:
    if outcome.view is None or outcome.lead_id is None:
        await refuse(query, outcome, config, locale)
        return
    text = render(
        "self_request.html.j2",
        locale,
        view=outcome.view,
        at=shown_time(outcome.view.call_at, config, locale),
    )
    await say(query, text, request_keyboard(outcome.lead_id, locale))


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
        await refuse(query, nudged, config, locale)
        return
    await say(query, render("self_nudged.html.j2", locale, lead_id=lead_id))
