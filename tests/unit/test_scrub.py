"""How a person's traces are recognised in stored values: a phone however it is written, a
name as whole words, an e-mail in any case, a Telegram id as a number or in text; and what is
not theirs is left alone."""

from __future__ import annotations

import json

import pytest

from bot.privacy.scrub import Traces

IVAN = Traces.of(
    phones=["+79005556677"],
    emails=["Ivan.P@Example.com"],
    names=["Иван Petrov"],
    telegram_ids=[777000123],
)


@pytest.mark.parametrize(
    "text",
    [
        "+79005556677",
        "8 (900) 555-66-77",
        "call 8-900-555 66 77 after six",
        "79005556677",
        "ivan.p@example.COM",
        "иван",
        "Дозвонились: ИВАН",
        "Mr Petrov called",
        "chat 777000123",
    ],
)
def test_traces_are_found_however_written(text: str) -> None:
    assert IVAN.found_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "+79005556678",  # one digit off: someone else
        "90055566771",  # a longer number
        "Petrova",  # a name is a whole word: his sister is not him
        "Иванов",
        "2026-01-05T09:00:00+00:00",
        "7770001234",
        "",
    ],
)
def test_others_are_not_him(text: str) -> None:
    assert not IVAN.found_in(text)


def test_redact_keeps_the_rest_of_someone_elses_words() -> None:
    assert IVAN.redact("her brother +7 900 555-66-77 and Petrov") == "her brother *** and ***"
    assert IVAN.redact("Olga, +79001110000") == "Olga, +79001110000"


def test_scrub_drops_personal_keys_and_values_that_hold_a_trace() -> None:
    payload = {
        "template": "stale_closed",
        "context": {"text": "anything at all", "lead_id": 7, "by": "Иван Petrov"},
        "from_chat_id": 777000123,
        "message_id": 42,
        "list": ["+7 900 555 66 77", "ok"],
    }
    assert IVAN.scrub(payload) == {
        "template": "stale_closed",
        "context": {"lead_id": 7, "by": None},
        "from_chat_id": None,
        "message_id": 42,
        "list": [None, "ok"],
    }


def test_a_database_can_find_the_json_escaped_name() -> None:
    """JSON columns hold "Иван" as \\u0418\\u0432\\u0430\\u043d: the patterns include that form,
    in the cases a name is written."""
    stored = json.dumps({"name": "Иван Petrov"})
    assert any(pattern in stored for pattern in IVAN.like_patterns())
    assert "+7 900 555-66-77" in IVAN.like_patterns()  # as leadbot shows a phone


def test_without_names_searches_only_what_is_his_alone() -> None:
    mine = IVAN.without_names()
    assert not mine.found_in("Иван Petrov")
    assert mine.found_in("8 900 555 66 77")
