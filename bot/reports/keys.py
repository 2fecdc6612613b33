"""Short keys for what a report's button names but cannot carry whole: a source is up to 64
characters of anything, a reason code up to 24, and a button holds 64 bytes in all.

A key is a hash, not a position in a list: a new source arriving in the period does not shift
what an older button meant. It is looked up among the period's own sources (or reasons) when
pressed; a key that matches nothing there is an outdated (or forged) button."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

KEY_LENGTH = 8  # characters: 48 bits of a hash; two sources of one period never share one


def short_key(text: str) -> str:
    """8 URL-safe characters (no ':', aiogram's separator) standing for `text`."""
    digest = hashlib.blake2b(text.encode(), digest_size=KEY_LENGTH * 6 // 8).digest()
    return base64.urlsafe_b64encode(digest).decode()


def find_by_key(candidates: Iterable[str], key: str) -> str | None:
    """The candidate `key` stands for, if any."""
    return next((text for text in candidates if short_key(text) == key), None)
