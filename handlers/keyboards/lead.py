"""Inline keyboards and the typed callback data behind every button."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.lifecycle import Action
from bot.common.render import cut, labels, utf16_length
from bot.config import AppConfig
from bot.leads.call_backs import CallBackChoice
from bot.leads.cards import CardAction, CardView
from bot.leads.reassign import Candidate


class LeadButton(CallbackData, prefix="lead"):
    """A card button: `lead:take:42`."""

    action: CardAction
    lead_id: int


class ReasonButton(CallbackData, prefix="why"):
    """A pick in a reason list: `why:junk:42:spam`, `why:refuse:42:price`."""

    outcome: Action
    lead_id: int
    reason: str


class CardBackButton(CallbackData, prefix="card"):
    """Leave a picker and show the card's own buttons again."""

    lead_id: int


class CallBackWhen(CallbackData, prefix="when"):
    """A call-back time picked on the card: `when:42:2h`."""

    lead_id: int
    choice: CallBackChoice


class HistoryPage(CallbackData, prefix="hist"):
    lead_id: int
    page: int


HALF_ROW = 14  # UTF-16 units a label may have to share a row on a phone without breaking


def rows_by_width(texts: Sequence[str]) -> list[int]:
    """Row sizes for `InlineKeyboardBuilder.adjust`, in order: two short labels share a row,
    a long one («📝 Квалифицировать») gets a row of its own, so no word breaks mid-way."""
    sizes: list[int] = []
    pending = False  # a short label waits for a partner
    for text in texts:
        if utf16_length(text) > HALF_ROW:
            if pending:
                sizes.append(1)
                pending = False
            sizes.append(1)
        elif pending:
            sizes.append(2)
            pending = False
        else:
            pending = True
    if pending:
        sizes.append(1)
    return sizes


def card_keyboard(view: CardView, locale: str) -> InlineKeyboardMarkup | None:
    if not view.actions:
        return None
    names = labels(locale)["buttons"]
    builder = InlineKeyboardBuilder()
    texts = [names[action.value] for action in view.actions]
    for action, text in zip(view.actions, texts, strict=True):
        builder.button(text=text, callback_data=LeadButton(action=action, lead_id=view.lead_id))
    builder.adjust(*rows_by_width(texts))
    return builder.as_markup()


def _back(builder: InlineKeyboardBuilder, lead_id: int, locale: str) -> None:
    back = labels(locale)["buttons"]["back"]
    builder.button(text=back, callback_data=CardBackButton(lead_id=lead_id))


def reasons_keyboard(
    lead_id: int, outcome: Action, config: AppConfig, locale: str
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    texts = []
    for reason in config.reasons(outcome):
        texts.append(reason.label(locale))
        builder.button(
            text=texts[-1],
            callback_data=ReasonButton(outcome=outcome, lead_id=lead_id, reason=reason.code),
        )
    _back(builder, lead_id, locale)
    builder.adjust(*rows_by_width([*texts, labels(locale)["buttons"]["back"]]))
    return builder.as_markup()


def call_back_times_keyboard(lead_id: int, locale: str) -> InlineKeyboardMarkup:
    names = labels(locale)["callback_choices"]
    builder = InlineKeyboardBuilder()
    for choice in CallBackChoice:
        builder.button(
            text=names[choice.value], callback_data=CallBackWhen(lead_id=lead_id, choice=choice)
        )
    _back(builder, lead_id, locale)
    builder.adjust(3, 1, 1)
    return builder.as_markup()


class RecordingButton(CallbackData, prefix="rec"):
    """A call recording on a history page: `rec:17` sends call_recordings row 17 as audio."""

    recording_id: int


def history_keyboard(
    lead_id: int, page: int, pages: int, recordings: Sequence[tuple[int, str]] = ()
) -> InlineKeyboardMarkup | None:
    """The page's recordings (one button each: id, label), then the pages."""
    if pages <= 1 and not recordings:
        return None
    builder = InlineKeyboardBuilder()
    for recording_id, label in recordings:
        builder.button(text=label, callback_data=RecordingButton(recording_id=recording_id))
    if pages <= 1:
        builder.adjust(1)
        return builder.as_markup()
    if page > 0:
        builder.button(text="◀", callback_data=HistoryPage(lead_id=lead_id, page=page - 1))
    here = HistoryPage(lead_id=lead_id, page=page)
    builder.button(text=f"{page + 1}/{pages}", callback_data=here)
    if page + 1 < pages:
        builder.button(text="▶", callback_data=HistoryPage(lead_id=lead_id, page=page + 1))
    turns = 1 + (page > 0) + (page + 1 < pages)
    builder.adjust(*[1] * len(recordings), turns)
    return builder.as_markup()


def reply_keyboard(lead_id: int, locale: str) -> InlineKeyboardMarkup:
    """Under a client's message relayed to a manager: answer it."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=labels(locale)["buttons"]["reply"],
        callback_data=LeadButton(action=CardAction.REPLY, lead_id=lead_id),
    )
    return builder.as_markup()


def missed_call_keyboard(lead_id: int, locale: str) -> InlineKeyboardMarkup:
    """Under a missed-call message: the call was returned, or nobody answered."""
    names = labels(locale)["buttons"]
    builder = InlineKeyboardBuilder()
    for action in (CardAction.CALLED_BACK, CardAction.NO_ANSWER):
        builder.button(
            text=names[action.value], callback_data=LeadButton(action=action, lead_id=lead_id)
        )
    return builder.as_markup()


class ReassignTo(CallbackData, prefix="give"):
    """`give:42:7:3`: lead 42 to staff 7, as the lead was at version 3 when the picker opened."""

    lead_id: int
    staff_id: int
    version: int


def candidates_keyboard(
    lead_id: int, version: int, people: list[Candidate], locale: str
) -> InlineKeyboardMarkup:
    words = labels(locale)["reassign"]
    builder = InlineKeyboardBuilder()
    for person in people:
        duty = "🟢" if person.on_duty else "⚪"
        load = words["load"].format(n=person.open_leads)
        if person.capacity is not None:
            load += f"/{person.capacity}"
        builder.button(
            text=cut(f"{duty} {person.name} · {load}", 60),
            callback_data=ReassignTo(lead_id=lead_id, staff_id=person.staff_id, version=version),
        )
    builder.button(
        text=labels(locale)["buttons"]["back"], callback_data=CardBackButton(lead_id=lead_id)
    )
    builder.adjust(1)
    return builder.as_markup()


class MergeInto(CallbackData, prefix="merge"):
    """`merge:5:3`: lead 5 is merged into lead 3 (the survivor)."""

    lead_id: int
    into_id: int
