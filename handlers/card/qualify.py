"""Qualify and Convert: a short dialogue that walks the configured deal fields, pre-filled
from the lead, then saves them (Qualify) or closes the deal (Convert)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import Action
from bot.common.render import render, render_alert
from bot.config import AppConfig, DealField, FieldKind
from bot.leads.actions import ActionResult, Refusal, check_allowed, load_lead
from bot.leads.cards import CardAction
from bot.leads.qualify import (
    Answers,
    UnreadableAnswer,
    convert_lead,
    current_value,
    dialogue_fields,
    format_amount,
    qualify_lead,
    read_answer,
    shown_value,
)
from handlers.errors import refuse, refuse_in_chat, unchanged_or_gone
from handlers.keyboards.lead import LeadButton
from handlers.keyboards.qualify import StepButton, StepChoice, step_keyboard
from storage.models import Staff

STARTS = {CardAction.QUALIFY: Action.QUALIFY, CardAction.CONVERT: Action.CONVERT}


class QualifyDialogue(StatesGroup):
    answering = State()


def _stored(field: DealField, raw: Any) -> Any:
    """FSM data is JSON (Redis keeps it too): amounts travel as strings."""
    return Decimal(raw) if field.kind is FieldKind.AMOUNT and raw is not None else raw


class Dialogue:
    """The dialogue's state as kept between updates, and the next question."""

    def __init__(self, data: dict[str, Any], config: AppConfig) -> None:
        self.lead_id: int = data["lead_id"]
        self.action = Action(data["action"])
        self.index: int = data["index"]
        self.answers: dict[str, Any] = data["answers"]
        self.missing: list[str] = data["missing"]
        by_name = {field.field: field for field in config.deal_fields}
        # a field removed from the config while the dialogue was open is simply not asked
        self.fields = [by_name[name] for name in data["steps"] if name in by_name]

    @property
    def field(self) -> DealField | None:
        return self.fields[self.index] if self.index < len(self.fields) else None

    def typed_answers(self) -> Answers:
        by_name = {field.field: field for field in self.fields}
        return {
            name: _stored(by_name[name], raw)
            for name, raw in self.answers.items()
            if name in by_name
        }


async def _ask(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    session: AsyncSession,
    config: AppConfig,
    locale: str,
) -> Dialogue | None:
    """Send the question of the current step (None when every step is answered)."""
    data = await state.get_data()
    dialogue = Dialogue(data, config)
    await _retire_prompt(bot, chat_id, data.get("prompt_id"))
    field = dialogue.field
    if field is None:
        return dialogue
    lead = await load_lead(session, dialogue.lead_id)
    value = current_value(lead, field) if lead is not None else None
    if field.field in dialogue.answers:
        value = _stored(field, dialogue.answers[field.field])
    has_value = value not in (None, "")
    names = {f.field: f.label(locale) for f in config.deal_fields}
    sent = await bot.send_message(
        chat_id,
        render(
            "qualify_step.html.j2",
            locale,
            lead_id=dialogue.lead_id,
            action=dialogue.action.value,
            step=dialogue.index + 1,
            steps=len(dialogue.fields),
            field=field,
            label=field.label(locale),
            value=shown_value(field, value) if has_value else None,
            missing=[names[name] for name in dialogue.missing if name in names]
            if dialogue.index == 0
            else [],
            currency=config.currency,
        ),
        reply_markup=step_keyboard(dialogue.lead_id, dialogue.index, field, has_value, locale),
    )
    await state.update_data(prompt_id=sent.message_id)
    return None


async def _retire_prompt(bot: Bot, chat_id: int, prompt_id: int | None) -> None:
    """The answered question loses its buttons, so an old step cannot be pressed again."""
    if prompt_id is None:
        return
    with unchanged_or_gone():  # already gone or unchanged: nothing to retire
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=prompt_id, reply_markup=None
        )


async def _advance(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    session: AsyncSession,
    staff: Staff,
    config: AppConfig,
    clock: Clock,
    locale: str,
) -> ActionResult | None:
    """Ask the next question, or finish: save (Qualify) or close the deal (Convert)."""
    finished = await _ask(bot, chat_id, state, session, config, locale)
    if finished is None:
        return None
    await state.clear()
    answers = finished.typed_answers()
    if finished.action is Action.CONVERT:
        result = await convert_lead(session, finished.lead_id, staff, answers, clock.now(), config)
        if result.ok and result.lead is not None:
            amount = result.lead.amount
            await bot.send_message(
                chat_id,
                render(
                    "converted.html.j2",
                    locale,
                    lead_id=finished.lead_id,
                    currency=config.currency,
                    amount=format_amount(amount) if amount is not None else None,
                ),
            )
        return result
    if not answers:
        await bot.send_message(
            chat_id, render("qualified.html.j2", locale, lead_id=finished.lead_id, saved=[])
        )
        return ActionResult(None)
    result = await qualify_lead(session, finished.lead_id, staff, answers, clock.now(), config)
    if result.ok:
        saved = [field.label(locale) for field in finished.fields if field.field in answers]
        await bot.send_message(
            chat_id, render("qualified.html.j2", locale, lead_id=finished.lead_id, saved=saved)
        )
    return result


def _missing_labels(result: ActionResult, config: AppConfig, locale: str) -> str:
    names = {field.field: field.label(locale) for field in config.deal_fields}
    return ", ".join(names.get(name, name) for name in result.missing)


async def _tell_refusal(
    message: Message, result: ActionResult, config: AppConfig, locale: str
) -> None:
    if result.refusal is Refusal.MISSING_FIELDS:
        await message.answer(
            render(
                "refusal_missing_fields.html.j2",
                locale,
                lead_id=result.lead.id if result.lead else None,
                missing=_missing_labels(result, config, locale),
            )
        )
        return
    await refuse_in_chat(message, result, locale)


def qualify_router() -> Router:
    router = Router(name="qualify")

    @router.callback_query(LeadButton.filter(F.action.in_(set(STARTS))))
    async def start(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        state: FSMContext,
        bot: Bot,
        clock: Clock,
    ) -> None:
        action = STARTS[callback_data.action]
        allowed = await check_allowed(session, callback_data.lead_id, staff, action)
        if not allowed.ok or allowed.lead is None or query.message is None:
            await refuse(query, allowed, locale)
            return
        plan = dialogue_fields(allowed.lead, config, action is Action.CONVERT)
        await query.answer()
        await state.set_data(
            {
                "lead_id": callback_data.lead_id,
                "action": action.value,
                "index": 0,
                "answers": {},
                "steps": [field.field for field in plan.fields],
                "missing": [field.field for field in plan.missing],
            }
        )
        chat_id = query.message.chat.id
        try:
            result = await _advance(bot, chat_id, state, session, staff, config, clock, locale)
        except Exception:
            await state.clear()  # the first question never arrived: no invisible dialogue
            raise
        if result is None:  # the first question is in the chat: the dialogue waits for answers
            await state.set_state(QualifyDialogue.answering)
        if result is not None and not result.ok and isinstance(query.message, Message):
            await _tell_refusal(query.message, result, config, locale)

    @router.message(QualifyDialogue.answering, F.text, ~F.text.startswith("/"))
    async def answer(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        state: FSMContext,
        bot: Bot,
        clock: Clock,
    ) -> None:
        dialogue = Dialogue(await state.get_data(), config)
        field = dialogue.field
        if field is None:  # the config lost the remaining fields: finish with what there is
            await _advance(bot, message.chat.id, state, session, staff, config, clock, locale)
            return
        try:
            value = read_answer(field, message.text or "", config.phone_region)
        except UnreadableAnswer:
            await message.answer(
                render("qualify_unreadable.html.j2", locale, field=field, label=field.label(locale))
            )
            return
        answers = {**dialogue.answers, field.field: str(value)}
        await state.update_data(answers=answers, index=dialogue.index + 1)
        result = await _advance(bot, message.chat.id, state, session, staff, config, clock, locale)
        if result is not None and not result.ok:
            await _tell_refusal(message, result, config, locale)

    @router.callback_query(StepButton.filter())
    async def press(
        query: CallbackQuery,
        callback_data: StepButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        state: FSMContext,
        bot: Bot,
        clock: Clock,
    ) -> None:
        data = await state.get_data()
        asked = (data.get("lead_id"), data.get("index"))
        in_dialogue = await state.get_state() == QualifyDialogue.answering.state
        current = in_dialogue and asked == (callback_data.lead_id, callback_data.step)
        if not current or query.message is None:  # an old question, or someone else's
            await query.answer(render_alert("refusal_outdated", locale), show_alert=True)
            return
        if callback_data.choice is StepChoice.CANCEL:
            await state.clear()
            await _retire_prompt(bot, query.message.chat.id, data.get("prompt_id"))
            await query.answer(render_alert("dialogue_cancelled", locale))
            return
        await state.update_data(index=callback_data.step + 1)
        await query.answer()
        result = await _advance(
            bot, query.message.chat.id, state, session, staff, config, clock, locale
        )
        if result is not None and not result.ok and isinstance(query.message, Message):
            await _tell_refusal(query.message, result, config, locale)

    return router
