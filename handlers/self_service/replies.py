"""What the client reads back in self-service: answers as new messages in their chat (their
history keeps them, unlike alerts), refusals in words, the slot pickers."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message

from bot.common.render import local_time, render
from bot.config import AppConfig
from bot.self_service.requests import Outcome, SelfRefusal
from bot.self_service.slots import free_slots
from handlers.keyboards.self_service import request_keyboard, slots_keyboard
from storage.models import Staff


def is_client(event: Message | CallbackQuery, staff: Staff | None = None) -> bool:
    chat = event.chat if isinstance(event, Message) else (event.message and event.message.chat)
    return staff is None and chat is not None and chat.type == "private"


def shown_time(view_at: datetime | None, config: AppConfig, locale: str) -> str | None:
    return local_time(view_at, config.zone, locale) if view_at else None


def refusal_text(outcome: Outcome, config: AppConfig, locale: str) -> str:
    assert outcome.refusal is not None
    view = outcome.view
    at = outcome.next_at if outcome.refusal is SelfRefusal.TOO_SOON else (view and view.call_at)
    return render(
        "self_refused.html.j2",
        locale,
        reason=outcome.refusal.value,
        view=view,
        at=shown_time(at, config, locale),
    )


async def say(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """The answer to a press, as a new message in the client's chat (their history keeps it);
    the press itself is answered by EveryPressAnswered."""
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.answer(text, reply_markup=markup)


async def refuse(query: CallbackQuery, outcome: Outcome, config: AppConfig, locale: str) -> None:
    markup = None
    if outcome.refusal is SelfRefusal.ALREADY_OPEN and outcome.lead_id:
        markup = request_keyboard(outcome.lead_id, locale)
    await say(query, refusal_text(outcome, config, locale), markup)


async def offer_slots(
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
        await say(query, render("self_refused.html.j2", locale, reason="no_slots"))
        return
    markup = slots_keyboard(slots, now, config, locale, lead_id, code)
    await say(query, render(template, locale, **context), markup)
