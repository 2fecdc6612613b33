"""The card's buttons keep every label whole: two short labels share a row on a phone, a long
one (Russian «📝 Квалифицировать») gets a row of its own."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup

from bot.common.lifecycle import Action
from bot.config import load_app_config
from bot.leads.cards import CardAction, CardView
from handlers.keyboards.lead import (
    HALF_ROW,
    card_keyboard,
    history_keyboard,
    reasons_keyboard,
    rows_by_width,
)


def _rows(markup: object) -> list[list[str]]:
    return [[button.text for button in row] for row in markup.inline_keyboard]  # type: ignore[attr-defined]


def test_a_long_label_gets_a_full_row_and_short_ones_pair_up_in_order() -> None:
    assert rows_by_width(["a", "b", "c"]) == [2, 1]
    assert rows_by_width(["a", "x" * (HALF_ROW + 1), "b", "c"]) == [1, 1, 2]


def test_the_russian_working_card_breaks_no_label_mid_word() -> None:
    a = CardAction
    working = (a.CALL_BACK, a.QUALIFY, a.CONVERT, a.REFUSE, a.JUNK, a.NOTE, a.HISTORY)
    rows = _rows(card_keyboard(CardView(1, "", working), "ru"))
    assert rows == [
        ["📞 Перезвонить"],
        ["📝 Квалифицировать"],
        ["✅ Сделка", "🚫 Отказ"],
        ["🗑 Мусор", "✏️ Заметка"],
        ["📜 История"],
    ]
    english = _rows(card_keyboard(CardView(1, "", working), "en"))
    assert english[:2] == [["📞 Call back", "📝 Qualify"], ["✅ Convert", "🚫 Refuse"]]


def test_long_reasons_get_rows_of_their_own() -> None:
    rows = _rows(reasons_keyboard(1, Action.REFUSE, load_app_config(), "en"))
    assert ["No answer after several attempts"] in rows
    assert all(len(row) == 1 for row in rows if any(len(text) > HALF_ROW for text in row))


def _buttons(markup: InlineKeyboardMarkup) -> list[list[tuple[str, str]]]:
    return [[(b.text, b.callback_data or "") for b in row] for row in markup.inline_keyboard]


def test_a_history_page_has_a_button_per_recording_above_its_pages() -> None:
    recordings = [(7, "🎧 2:35 · 5 Jan 12:20"), (9, "🎧 0:41 · 5 Jan 15:02")]
    one_page = history_keyboard(42, 0, 1, recordings)
    assert one_page is not None and _buttons(one_page) == [
        [("🎧 2:35 · 5 Jan 12:20", "rec:7")],
        [("🎧 0:41 · 5 Jan 15:02", "rec:9")],
    ]
    middle = history_keyboard(42, 1, 3, recordings[:1])
    assert middle is not None and _buttons(middle) == [
        [("🎧 2:35 · 5 Jan 12:20", "rec:7")],
        [("◀", "hist:42:0"), ("2/3", "hist:42:1"), ("▶", "hist:42:2")],
    ]
    assert history_keyboard(42, 0, 1) is None  # one page, nothing recorded: no buttons
