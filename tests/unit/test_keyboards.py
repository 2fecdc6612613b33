"""The card's buttons keep every label whole: two short labels share a row on a phone, a long
one (Russian «📝 Квалифицировать») gets a row of its own."""

from __future__ import annotations

from bot.common.lifecycle import Action
from bot.config import load_app_config
from bot.leads.cards import CardAction, CardView
from handlers.keyboards.lead import HALF_ROW, card_keyboard, reasons_keyboard, rows_by_width


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
