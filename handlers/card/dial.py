"""📞 Call on the owner's card: the office PBX rings the manager's extension, then the client.
The press is re-checked against the lead and the presser as they are now (the core does it),
answered "calling you now…" or with an alert saying what is missing."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import cut, labels, render_alert
from bot.config import AppConfig
from bot.leads.cards import CardAction
from bot.telephony.click_to_call import Dialer, DialOutcome, DialResult, request_call
from handlers.errors import refuse
from handlers.keyboards.lead import LeadButton
from storage.models import Staff

log = logging.getLogger("leadbot.presses")

NAME_IN_ALERT = 30  # the presser's name in the "ask an admin" command: the alert has 200 chars


def dial_alert(result: DialResult, staff: Staff, locale: str) -> str:
    """The press's answer (plain text: an alert shows no HTML, so the PBX's words need none)."""
    reason = result.message or "?"
    if result.outcome is DialOutcome.PBX_REFUSED:
        reason = labels(locale)["pbx_results"].get(reason, reason)  # Mango's codes in words
    return render_alert(
        f"dial_{result.outcome.value}",
        locale,
        lead_id=result.lead_id,
        extension=result.extension,
        reason=reason,
        telegram_id=staff.telegram_id,
        role=staff.role,
        staff_name=cut(staff.name.replace('"', "'"), NAME_IN_ALERT),
    )


def dial_router() -> Router:
    router = Router(name="dial")

    @router.callback_query(LeadButton.filter(F.action == CardAction.DIAL))
    async def dial(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
        dialer: Dialer | None = None,
    ) -> None:
        lead_id = callback_data.lead_id
        result = await request_call(session, lead_id, staff, dialer, clock.now(), config)
        if result.refusal is not None and not result.refusal.ok:
            await refuse(query, result.refusal, locale)
            return
        if result.outcome is not DialOutcome.CALLING:
            log.info(
                "call refused user=%s lead=%s why=%s pbx=%r",
                query.from_user.id,
                lead_id,
                result.outcome,
                result.message,
            )
        alert = result.outcome is not DialOutcome.CALLING
        await query.answer(dial_alert(result, staff, locale), show_alert=alert)

    return router
