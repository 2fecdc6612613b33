"""The headers that keep an answer in the client's thread (RFC 5322 section 3.6.4): the
subject "Re: <theirs>", In-Reply-To their letter's Message-ID, References theirs plus that
Message-ID, and a Message-ID of our own made when the answer is queued (so a letter sent
again after a crash carries the same one). Pure: no database, no network.

Every value here may come from a stranger's letter: CR, LF and other control characters are
taken out, so nothing a client writes can start a header of its own."""

from __future__ import annotations

import re
from email.utils import make_msgid, parseaddr

# C0 controls (CR and LF among them), DEL and the C1 controls, which some mail programs
# read as line breaks: none belongs in a header value
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# "Re:", "RE :", "Fwd:"... repeated at the start of a subject (and the Russian "Ответ:")
REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|ответ)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
SUBJECT_LIMIT = 500  # characters of the client's subject kept
# References keep the thread's first letter and the latest ones (RFC 5322 allows trimming):
# a header of a thousand ids would be refused by some servers
REFERENCES_KEPT = 20


def one_line(value: str | None, limit: int = 998) -> str:
    """`value` as one header line: control characters become a space, ends trimmed."""
    return CONTROLS.sub(" ", value or "").strip()[:limit]


def reply_subject(subject: str | None) -> str:
    """ "Re: <their subject>", never "Re: Re: ..."."""
    text = one_line(subject, SUBJECT_LIMIT)
    while True:
        shorter = REPLY_PREFIX.sub("", text, count=1)
        if shorter == text:
            break
        text = shorter
    return f"Re: {text}" if text else "Re:"


def bare_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets (as email_letters keeps them); None when
    `value` holds none."""
    text = one_line(value)
    found = MESSAGE_ID.search(text)
    if found:
        return found.group(1)
    return text if text and " " not in text and "@" in text and "<" not in text else None


def bracketed(message_id: str) -> str:
    """A bare Message-ID as headers carry it: in angle brackets."""
    return "<" + message_id + ">"


def references_header(ids: list[str]) -> str | None:
    """The References header of bare ids (None: no ids)."""
    return " ".join(bracketed(found) for found in ids) or None


def thread_references(references: str | None, message_id: str) -> list[str]:
    """The References of an answer to a letter: that letter's References, then its own
    Message-ID (bare ids, each once; the first and the latest kept when there are many)."""
    ids: list[str] = []
    for found in [*MESSAGE_ID.findall(one_line(references, 100_000)), message_id]:
        if found not in ids:
            ids.append(found)
    if len(ids) > REFERENCES_KEPT:
        ids = [ids[0], *ids[-(REFERENCES_KEPT - 1) :]]
    return ids


def address_of(value: str | None) -> str | None:
    """The bare address in "Kate <kate@example.com>" (or None: no address there)."""
    address = parseaddr(one_line(value, 1000))[1]
    return address if "@" in address and not CONTROLS.search(address) else None


def new_message_id(sender: str) -> str:
    """A Message-ID of ours, bare, on the domain of the team address `sender`."""
    address = address_of(sender) or ""
    domain = address.rpartition("@")[2] or None
    return make_msgid(domain=domain).strip("<>")
