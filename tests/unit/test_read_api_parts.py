"""The read API's pure parts: the cursor (a position, opaque, refused when not ours) and the
wording of a model's validation error in the routes' error shape."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from bot.leads.cursor import CursorError, Position, Sort, decode_cursor, encode_cursor
from handlers.web.schemas.calls import CallEventRequest
from handlers.web.schemas.common import refusal
from handlers.web.schemas.intake import LeadRequest
from handlers.web.schemas.leads import LeadsQuery


def _raw(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_reads_back_as_the_position_it_was_made_from() -> None:
    moment = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    for position in (Position(Sort.ID, 7), Position(Sort.UPDATED_AT, 7, moment)):
        text = encode_cursor(position)
        assert text.isascii() and "=" not in text and "/" not in text and "+" not in text
        assert decode_cursor(text, position.sort) == position
    # a position in another zone is the same moment, in UTC
    moscow = moment.astimezone(timezone(timedelta(hours=3)))
    text = encode_cursor(Position(Sort.UPDATED_AT, 7, moscow))
    assert decode_cursor(text, Sort.UPDATED_AT).updated_at == moment


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64 !",
        "////",
        _raw([]),
        _raw({"s": "id"}),
        _raw({"s": "id", "i": "7"}),
        _raw({"s": "id", "i": True}),
        _raw({"s": "id", "i": -1}),
        _raw({"s": "id", "i": 2**31}),  # no lead has it (PostgreSQL would refuse the query)
        _raw({"s": "name", "i": 7}),
        "x" * 201,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_but_our_cursor_is_refused(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text, Sort.ID)


@pytest.mark.parametrize(
    "data",
    [
        {"s": "updated_at", "i": 7},
        {"s": "updated_at", "i": 7, "k": "yesterday"},
        {"s": "updated_at", "i": 7, "k": "2026-01-05T09:00:00"},  # no zone
        {"s": "updated_at", "i": 7, "k": 5},
    ],
)
def test_a_change_feed_cursor_needs_its_moment(data: dict[str, object]) -> None:
    with pytest.raises(CursorError):
        decode_cursor(_raw(data), Sort.UPDATED_AT)


def test_a_cursor_is_not_read_in_another_order() -> None:
    with pytest.raises(CursorError, match="sort=updated_at"):
        decode_cursor(encode_cursor(Position(Sort.ID, 7)), Sort.UPDATED_AT)


@pytest.mark.parametrize(
    ("model", "data", "said"),
    [
        (LeadRequest, {"name": {"first": "Ivan"}}, ("name must be a string", "name")),
        (LeadRequest, {"phone": True}, ("phone must be a string", "phone")),
        (CallEventRequest, {"direction": "in"}, ("call_id is required", "call_id")),
        (
            CallEventRequest,
            {"call_id": "c", "direction": "sideways"},
            ("direction must be one of: in, out", "direction"),
        ),
        (LeadsQuery, {"limit": "0"}, ("limit must be at least 1", "limit")),
        (LeadsQuery, {"limit": "1_000"}, ("limit must be a whole number", "limit")),
        (LeadsQuery, {"stauts": "new"}, ("stauts is not a parameter of this request", "stauts")),
        (
            LeadsQuery,
            {"created_since": "2026-01-05T09:00:00"},
            (
                "created_since must be an RFC 3339 time with a zone, such as 2026-01-05T09:00:00Z",
                "created_since",
            ),
        ),
    ],
)
def test_a_model_refusal_names_the_field_in_words(
    model: type, data: dict[str, object], said: tuple[str, str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert refusal(caught.value) == said


def test_a_form_may_send_numbers_but_the_model_leaves_reading_them_to_the_intake() -> None:
    """A phone typed into a number field is a number in JSON: taken as it is (the intake reads
    it); unknown fields are kept (extra fields of the lead)."""
    parsed = LeadRequest.model_validate({"phone": 79001234567, "color": ["blue"]})
    assert parsed.phone == 79001234567 and parsed.model_extra == {"color": ["blue"]}
