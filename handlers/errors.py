"""Every refusal a person sees, in one place: a press that changed nothing is answered with
an alert saying why (and logged); a typed answer gets the same words as a message. And the
Telegram errors a handler may meet and ignore on purpose."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, suppress

from aiogram import html
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot.common.render import render_alert
from bot.leads.actions import ActionResult
from bot.team.staff import StaffRefusal

log = logging.getLogger("leadbot.presses")


def refusal_text(result: ActionResult, locale: str) -> str:
    assert result.refusal is not None
    return render_alert(
        f"refusal_{result.refusal.value}",
        locale,
        owner=result.owner_name,
        lead_id=result.lead.id if result.lead else None,
    )


async def refuse(query: CallbackQuery, result: ActionResult, locale: str) -> None:
    """A press that changed nothing: say why, as a pop-up the person must acknowledge."""
    # a stale or forged press is worth a line in the log: who, what, and why it was refused
    log.info(
        "press refused user=%s data=%r lead=%s why=%s",
        query.from_user.id,
        (query.data or "")[:64],
        result.lead.id if result.lead else None,
        result.refusal,
    )
    await query.answer(refusal_text(result, locale), show_alert=True)


async def refuse_in_chat(message: Message, result: ActionResult, locale: str) -> None:
    """The same, for a typed answer (a dialogue's last step)."""
    user = message.from_user.id if message.from_user else None
    log.info(
        "answer refused user=%s lead=%s why=%s",
        user,
        result.lead.id if result.lead else None,
        result.refusal,
    )
    await message.answer(html.quote(refusal_text(result, locale)))


async def refuse_staff_change(query: CallbackQuery, refusal: StaffRefusal, locale: str) -> None:
    await query.answer(render_alert("staff_refusal", locale, reason=refusal.value), show_alert=True)


def unchanged_or_gone() -> AbstractContextManager[None]:
    """Around an edit of a message the bot sent earlier: "message is not modified" (pressed
    twice, or a refresh got there first) and "message to edit not found" (deleted by the person)
    both leave nothing to do."""
    return suppress(TelegramBadRequest)
