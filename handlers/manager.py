"""The lead card's buttons for staff: Take, Junk with a reason."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardAction, card_for
from bot.clock import Clock
from bot.config import AppConfig
from bot.leads import ActionResult, check_junk_allowed, junk_lead, load_lead, take_lead
from bot.render import render, render_alert
from handlers.filters import IsStaff
from handlers.keyboards import (
    CardBackButton,
    JunkReasonButton,
    LeadButton,
    card_keyboard,
    junk_reasons_keyboard,
)
from storage.models import Staff

COMMENT_LIMIT = 1000


class JunkComment(StatesGroup):
    """A reason that needs a few words (which service? what else?) waits for them here."""

    waiting = State()


async def _refuse(query: CallbackQuery, result: ActionResult, locale: str) -> None:
    assert result.refusal is not None
    await query.answer(
        render_alert(f"refusal_{result.refusal.value}", locale, owner=result.owner_name,
                     lead_id=result.lead.id if result.lead else None),
        show_alert=True,
    )  # fmt: skip


def _reader_staff_id(query: CallbackQuery, staff: Staff) -> int | None:
    """A card in the team chat is the team's view; in a private chat, its owner's."""
    message = query.message
    private = message is not None and message.chat.type == "private"
    return staff.id if private else None


def manager_router() -> Router:
    router = Router(name="manager")
    router.callback_query.filter(IsStaff())
    router.message.filter(IsStaff())

    @router.callback_query(LeadButton.filter(F.action == CardAction.TAKE))
    async def take(
        query: CallbackQuery, callback_data: LeadButton, session: AsyncSession,
        staff: Staff, locale: str, clock: Clock,
    ) -> None:  # fmt: skip
        result = await take_lead(session, callback_data.lead_id, staff, clock.now())
        if not result.ok:
            await _refuse(query, result, locale)
            return
        await query.answer(render_alert("taken", locale, lead_id=callback_data.lead_id))

    @router.callback_query(LeadButton.filter(F.action == CardAction.JUNK))
    async def pick_junk_reason(
        query: CallbackQuery, callback_data: LeadButton, session: AsyncSession,
        staff: Staff, locale: str, config: AppConfig,
    ) -> None:  # fmt: skip
        result = await check_junk_allowed(session, callback_data.lead_id, staff)
        if not result.ok:
            await _refuse(query, result, locale)
            return
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(
                reply_markup=junk_reasons_keyboard(callback_data.lead_id, config, locale)
            )
        await query.answer(render_alert("junk_pick", locale, lead_id=callback_data.lead_id))

    @router.callback_query(CardBackButton.filter())
    async def back_to_card(
        query: CallbackQuery, callback_data: CardBackButton, session: AsyncSession,
        staff: Staff, config: AppConfig, clock: Clock,
    ) -> None:  # fmt: skip
        lead = await load_lead(session, callback_data.lead_id)
        if lead is not None and isinstance(query.message, Message):
            view, reader_locale = await card_for(
                session, lead, _reader_staff_id(query, staff), config, clock.now()
            )
            await query.message.edit_reply_markup(reply_markup=card_keyboard(view, reader_locale))
        await query.answer()

    @router.callback_query(JunkReasonButton.filter())
    async def junk_with_reason(
        query: CallbackQuery, callback_data: JunkReasonButton, session: AsyncSession,
        staff: Staff, locale: str, config: AppConfig, clock: Clock, state: FSMContext,
    ) -> None:  # fmt: skip
        reason = config.junk_reason(callback_data.reason)
        if reason is not None and reason.asks_text:
            allowed = await check_junk_allowed(session, callback_data.lead_id, staff)
            if not allowed.ok:
                await _refuse(query, allowed, locale)
                return
            await state.set_state(JunkComment.waiting)
            await state.update_data(lead_id=callback_data.lead_id, reason=reason.code)
            await query.answer()
            if query.message is not None and not isinstance(query.message, InaccessibleMessage):
                await query.message.answer(
                    render("junk_ask_comment.html.j2", locale, lead_id=callback_data.lead_id,
                           reason=reason.label(locale), code=reason.code)
                )  # fmt: skip
            return
        result = await junk_lead(
            session, callback_data.lead_id, staff, callback_data.reason, None, clock.now(), config
        )
        if not result.ok:
            await _refuse(query, result, locale)
            return
        label = reason.label(locale) if reason else callback_data.reason
        await query.answer(render_alert("junked", locale, lead_id=callback_data.lead_id,
                                        reason=label))  # fmt: skip

    @router.message(StateFilter(JunkComment.waiting), Command("cancel"))
    async def cancel_junk_comment(message: Message, state: FSMContext, locale: str) -> None:
        await state.clear()
        await message.answer(render("junk_cancelled.html.j2", locale))

    @router.message(StateFilter(JunkComment.waiting), F.text)
    async def junk_with_comment(
        message: Message, session: AsyncSession, staff: Staff, locale: str,
        config: AppConfig, clock: Clock, state: FSMContext,
    ) -> None:  # fmt: skip
        data = await state.get_data()
        await state.clear()
        comment = (message.text or "").strip()[:COMMENT_LIMIT]
        result = await junk_lead(
            session, data["lead_id"], staff, data["reason"], comment, clock.now(), config
        )
        if not result.ok:
            assert result.refusal is not None
            alert = render_alert(f"refusal_{result.refusal.value}", locale,
                                 owner=result.owner_name, lead_id=data["lead_id"])  # fmt: skip
            await message.answer(html.quote(alert))
            return
        reason = config.junk_reason(data["reason"])
        await message.answer(
            render("junked.html.j2", locale, lead_id=data["lead_id"], comment=comment,
                   reason=reason.label(locale) if reason else data["reason"])
        )  # fmt: skip

    return router
