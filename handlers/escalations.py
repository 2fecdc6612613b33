"""A supervisor's answers to an escalation card: Take over and Snooze (Reassign is the card's
own picker, handlers/lead_reassign.py). Thin: parse, call the core, which re-checks everything
against the database."""

from __future__ import annotations

import enum

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import labels, local_time, render_alert
from bot.config import AlertKind, AppConfig
from bot.leads.cards import CardAction
from bot.leads.escalation import snooze, take_over
from bot.sla.alerts import AlertSubject
from bot.sla.deadlines import Step
from handlers.keyboards import LeadButton
from handlers.replies import refuse
from storage.models import Staff


class EscalationChoice(enum.StrEnum):
    TAKE_OVER = "own"
    SNOOZE = "snz"


class EscalationButton(CallbackData, prefix="esc"):
    """`esc:snz:42:7:answer:2:15`: on lead 42 (at version 7), the `answer` limit escalated
    at level 2, about task 15 (0: the lead's own limit)."""

    choice: EscalationChoice
    lead_id: int
    version: int
    kind: AlertKind
    level: int
    task_id: int = 0


def escalation_keyboard(
    lead_id: int, version: int, subject: AlertSubject, config: AppConfig, locale: str,
    may_take_over: bool = True,
) -> InlineKeyboardMarkup:  # fmt: skip
    """Reassign / Take over / Snooze; without Take over for a reader who works no leads (an
    admin), whose press would only be refused."""
    names = labels(locale)["buttons"]
    minutes = int(config.sla.snooze.total_seconds() // 60)
    builder = InlineKeyboardBuilder()
    reassign = LeadButton(action=CardAction.REASSIGN, lead_id=lead_id)  # the usual picker
    builder.button(text=names["reassign"], callback_data=reassign)
    snooze_label = names["snooze"].replace("15", str(minutes))
    choices = [(EscalationChoice.TAKE_OVER, names["take_over"])] if may_take_over else []
    for choice, label in [*choices, (EscalationChoice.SNOOZE, snooze_label)]:
        builder.button(text=label, callback_data=EscalationButton(
            choice=choice, lead_id=lead_id, version=version, kind=subject.kind,
            level=subject.level, task_id=subject.task_id or 0))  # fmt: skip
    builder.adjust(1)
    return builder.as_markup()


def escalation_router() -> Router:
    router = Router(name="escalations")

    @router.callback_query(EscalationButton.filter())
    async def answer(
        query: CallbackQuery, callback_data: EscalationButton, session: AsyncSession,
        staff: Staff, locale: str, clock: Clock, config: AppConfig,
    ) -> None:  # fmt: skip
        data, now = callback_data, clock.now()
        if data.choice is EscalationChoice.TAKE_OVER:
            result = await take_over(session, data.lead_id, staff, data.version, now, config)
            if not result.ok:
                await refuse(query, result, locale)
                return
            await query.answer(render_alert("taken_over", locale, lead_id=data.lead_id))
            return
        subject = AlertSubject(data.kind, Step.ESCALATE, data.level, data.task_id or None)
        result, until = await snooze(session, data.lead_id, subject, staff, now, config)
        if not result.ok or until is None:
            await refuse(query, result, locale)
            return
        await query.answer(render_alert("snoozed", locale, lead_id=data.lead_id,
                                        until=local_time(until, config.zone)))  # fmt: skip

    return router
