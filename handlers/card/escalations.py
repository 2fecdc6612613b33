"""A supervisor's answers to an escalation card: Take over and Snooze (Reassign is the card's
own picker, handlers/card/reassign.py). Thin: parse, call the core, which re-checks everything
against the database."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import local_time, render_alert
from bot.config import AppConfig
from bot.leads.escalation import snooze, take_over
from bot.sla.alerts import AlertSubject
from bot.sla.deadlines import Step
from handlers.errors import refuse
from handlers.keyboards.escalation import EscalationButton, EscalationChoice
from storage.models import Staff


def escalation_router() -> Router:
    router = Router(name="escalations")

    @router.callback_query(EscalationButton.filter())
    async def answer(
        query: CallbackQuery,
        callback_data: EscalationButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
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
        await query.answer(
            render_alert(
                "snoozed",
                locale,
                lead_id=data.lead_id,
                until=local_time(until, config.zone, locale),
            )
        )

    return router
