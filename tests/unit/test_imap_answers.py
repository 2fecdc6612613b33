"""The watcher's reading of IMAP answers (bot/adapters/mail/imap.py), on the lines aioimaplib
gives (as Dovecot sends them), and what it says when the mailbox fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.mail.imap import (
    MailboxError,
    _error_text,
    _imap_date,
    _quoted,
    _uids,
    _uidvalidity,
)


def test_search_answers_give_their_uids() -> None:
    assert _uids([b"1 2 17", b"Search completed (0.001 + 0.000 secs)."]) == [1, 2, 17]
    assert _uids([b"", b"Search completed (0.001 + 0.000 secs)."]) == []
    assert _uids([b"SEARCH 4 5", b"Search completed."]) == [4, 5]
    assert _uids([b"Search completed."]) == []


def test_select_gives_the_uidvalidity() -> None:
    lines = [b"2 EXISTS", b"OK [UIDVALIDITY 1796285642] UIDs valid", b"Select completed."]
    assert _uidvalidity(lines) == 1796285642
    with pytest.raises(MailboxError):
        _uidvalidity([b"Select completed."])


def test_a_folder_name_is_quoted_for_the_command() -> None:
    assert _quoted('Leads "2026" \\ new') == '"Leads \\"2026\\" \\\\ new"'


def test_the_password_never_shows_in_what_is_said() -> None:
    failed = MailboxError("command timed out: A001 LOGIN ['sales', 's3cret-pass']")
    assert _error_text(failed, "s3cret-pass") == "command timed out: A001 LOGIN ['sales', '***']"
    assert _error_text(TimeoutError(), "x") == "no answer (timeout)"
    assert _error_text(ConnectionRefusedError(111, "refused"), "") == "[Errno 111] refused"


def test_search_dates_are_written_as_rfc_3501_wants_them() -> None:
    assert _imap_date(datetime(2026, 12, 5, 23, 59, tzinfo=UTC)) == "5-Dec-2026"
    assert _imap_date(datetime(2027, 1, 31, tzinfo=UTC)) == "31-Jan-2027"
