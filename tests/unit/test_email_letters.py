"""Reading a letter (bot/email/letters.py, text.py) and telling a person from a machine
(kinds.py): what a manager would read on the card, for letters as mail clients write them and
as hostile senders do. Nothing here may raise."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from bot.config import load_app_config
from bot.email.files import files_lines, plan_files, size_text
from bot.email.kinds import LetterKind, letter_kind
from bot.email.letters import (
    FILENAME_LIMIT,
    MESSAGE_ID_LIMIT,
    TEXT_LIMIT,
    Attachment,
    parse_letter,
    storable_id,
)
from bot.email.text import html_to_text, trim_reply


def letter(headers: str, body: str | bytes = "Hello", *, crlf: bool = True) -> bytes:
    head = headers.strip().replace("\n", "\r\n" if crlf else "\n")
    data = body if isinstance(body, bytes) else body.replace("\n", "\r\n").encode()
    return head.encode("utf-8") + b"\r\n\r\n" + data


BASIC = """
From: "Ivan Petrov" <Ivan.Petrov@Example.com>
To: sales@ourteam.example
Subject: Price for a kitchen
Message-ID: <abc-1@mail.example.com>
Content-Type: text/plain; charset=utf-8
"""


def test_a_plain_letter_gives_its_sender_subject_text_and_id() -> None:
    read = parse_letter(letter(BASIC, "How much is a kitchen?\nCall me: 8 900 123-45-67"))
    assert read.sender_name == "Ivan Petrov"
    assert read.sender_address == "Ivan.Petrov@Example.com"
    assert read.subject == "Price for a kitchen"
    assert read.text == "How much is a kitchen?\nCall me: 8 900 123-45-67"
    assert read.message_id == "abc-1@mail.example.com"
    assert (read.in_reply_to, read.references, read.problems) == (None, (), ())
    assert letter_kind(read) is LetterKind.PERSON


def test_encoded_words_and_reply_to_are_read() -> None:
    headers = """
From: =?utf-8?b?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <robot@forms.example>
Reply-To: ivan@example.ru
Subject: =?koi8-r?b?8NLJ18XU?=
In-Reply-To: <out-7@ourteam.example>
References: <first@x.example> <out-7@ourteam.example>
"""
    read = parse_letter(letter(headers))
    assert read.sender_name == "Иван Петров"
    assert read.sender_address == "ivan@example.ru"  # where an answer goes
    assert read.subject == "Привет"
    # nearest first: In-Reply-To, then the References from the newest
    assert read.thread_ids() == ["out-7@ourteam.example", "first@x.example"]


def test_an_html_only_letter_is_made_readable_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>Hello&nbsp;there &amp; welcome</p><div>Line two<br>Line three</div>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>"
        "<blockquote>the letter replied to</blockquote></body></html>"
    )
    read = parse_letter(letter(BASIC.replace("text/plain", "text/html"), html))
    assert read.text == "Hello there & welcome\nLine two\nLine three\n• one\n• two"


def test_plain_wins_over_html_in_an_alternative() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    assert parse_letter(message.as_bytes()).text == "plain words"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Yes, Tuesday suits.\n\nOn Mon, 1 Dec 2026 at 10:00, Anna <a@x> wrote:\n> When?",
            "Yes, Tuesday suits.",
        ),
        # Gmail wraps the head over two lines
        (
            "Fine.\n\nOn Mon, 1 Dec 2026 at 10:00, Anna Smirnova\n"
            "<anna@ourteam.example> wrote:\n> x",
            "Fine.",
        ),
        ("Ok\n-----Original Message-----\nFrom: Anna\nSent: Monday", "Ok"),
        ("Да, подходит.\n\n1 дек. 2026 г., в 10:00, Анна <a@x> пишет:\n> Когда?", "Да, подходит."),
        ("Спасибо\n\nпн, 1 дек. 2026 г. в 10:00, Анна <a@x> написал(а):\n> x", "Спасибо"),
        ("Thanks\n-- \nIvan Petrov\nCEO", "Thanks"),
        ("See you\n\nSent from my iPhone", "See you"),
        ("До встречи\n\nОтправлено с iPhone", "До встречи"),
        ("Top\n> quoted line\nbottom", "Top\nbottom"),
        ("> only a quote\n> nothing new", "> only a quote\n> nothing new"),
    ],
)
def test_quotes_and_signatures_are_trimmed(text: str, kept: str) -> None:
    assert trim_reply(text) == kept


def test_attachments_keep_name_type_and_bytes() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("see attached")
    message.add_attachment(
        b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="offer.pdf"
    )
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="../../etc/passwd")
    read = parse_letter(message.as_bytes())
    assert read.text == "see attached"
    assert [(a.name, a.content_type, a.data) for a in read.attachments] == [
        ("offer.pdf", "application/pdf", b"%PDF-1.4 data"),
        ("_.._etc_passwd", "image/png", b"\x89PNG"),  # no folders in a file's name
    ]


def test_hostile_letters_are_read_without_raising() -> None:
    huge_name = "Ж" * 10_000
    headers = f"""
From: "{huge_name}" <{"x" * 400}@example.com>
Subject: <script>alert(1)</script> {"S" * 10_000}
Message-ID: <{"m" * 5000}@x>
Content-Type: multipart/mixed; boundary="never-closed"
"""
    body = (
        "--never-closed\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n"
        "caf\xe9 \ud800 text\r\n--never-closed\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{"f" * 10_000}.exe"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    ).encode("utf-8", "surrogatepass")
    read = parse_letter(letter(headers, body))
    assert read.sender_name is not None and len(read.sender_name) == 200  # cut, with "…"
    assert read.subject is not None and read.subject.startswith("<script>")  # escaped when shown
    assert len(read.subject) == 300
    assert read.message_id is not None and len(read.message_id) <= MESSAGE_ID_LIMIT
    assert "\ud800" not in read.text and "text" in read.text
    [attachment] = read.attachments
    assert len(attachment.name) <= FILENAME_LIMIT and attachment.name.endswith(".exe")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <>\r\n\r\n",
        b"Content-Type: multipart/alternative\r\n\r\nno boundary at all",
        b'Content-Type: text/plain; charset="\xff\xfe"\r\nSubject: =?x-unknown?q?abc?=\r\n\r\nbody',
        b"From: a@b.c\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=XX=\r\n=E9",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 200,
    ],
)
def test_broken_letters_still_read(raw: bytes) -> None:
    read = parse_letter(raw)
    assert isinstance(read.text, str)


def test_a_letter_in_an_undeclared_russian_charset_is_read() -> None:
    body = "Здравствуйте, нужна кухня".encode("cp1251")
    read = parse_letter(letter("From: a@b.example\nContent-Type: text/plain", body))
    assert read.text == "Здравствуйте, нужна кухня"


def test_many_megabytes_of_text_are_cut_to_what_a_card_holds() -> None:
    read = parse_letter(letter(BASIC, "word " * 2_000_000))
    assert len(read.text) == TEXT_LIMIT and read.text.endswith("…")


def test_a_long_message_id_is_kept_apart_by_its_hash() -> None:
    one, two = storable_id("a" * 2000 + "1"), storable_id("a" * 2000 + "2")
    assert len(one) == MESSAGE_ID_LIMIT and one != two


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("Auto-Submitted: auto-replied", LetterKind.AUTO_REPLY),
        ("Auto-Submitted: auto-generated; owner-email=x@y", LetterKind.AUTO_REPLY),
        ("Auto-Submitted: no", LetterKind.PERSON),
        ("Precedence: bulk", LetterKind.LIST),
        ("Precedence: list", LetterKind.LIST),
        ("Precedence: junk", LetterKind.AUTO_REPLY),
        ("Precedence: auto_reply", LetterKind.AUTO_REPLY),
        ("List-Id: <news.example.com>", LetterKind.LIST),
        ("List-Unsubscribe: <mailto:u@example.com>", LetterKind.LIST),
        ("X-Autoreply: yes", LetterKind.AUTO_REPLY),
        ("X-Autorespond: Out of office", LetterKind.AUTO_REPLY),
    ],
)
def test_machines_are_told_from_people(headers: str, kind: LetterKind) -> None:
    assert letter_kind(parse_letter(letter(f"From: a@example.com\n{headers}"))) is kind


def dsn(original_id: str) -> bytes:
    return letter(
        """
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        "--B\nContent-Type: text/plain\n\nYour letter could not be delivered.\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; nobody@client.example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        f"From: sales@ourteam.example\nMessage-ID: <{original_id}>\nSubject: Re: kitchen\n"
        "--B--\n",
    )


def test_a_delivery_report_names_the_letter_that_bounced_and_why() -> None:
    read = parse_letter(dsn("out-42@ourteam.example"))
    assert letter_kind(read) is LetterKind.BOUNCE
    assert read.original_message_id == "out-42@ourteam.example"
    assert read.diagnostic == "smtp; 550 5.1.1 user unknown"


def test_a_postmaster_letter_is_a_bounce_even_without_a_report() -> None:
    read = parse_letter(letter("From: postmaster@mx.example.com\nSubject: failure"))
    assert letter_kind(read) is LetterKind.BOUNCE


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>a<b>b</i></div><<>>&#xZZ;<!-- c") == "ab\n<<>>&#xZZ;<!-- c"


def test_files_within_the_caps_go_on_and_the_rest_are_named() -> None:
    limits = load_app_config(
        overrides={"email": {"max_file_bytes": 10, "max_files_bytes": 15, "max_files": 2}}
    ).email
    files = (
        Attachment("a.pdf", "application/pdf", b"x" * 10),
        Attachment("big.mp4", "video/mp4", b"x" * 11),  # over 10
        Attachment("b.txt", "text/plain", b"x" * 5),  # 15 in all: fits
        Attachment("c.txt", "text/plain", b"x"),  # over the total
        Attachment("empty.txt", "text/plain", b""),  # nothing to send
    )
    plan = plan_files(files, limits)
    assert [f.name for f in plan.passed] == ["a.pdf", "b.txt"]
    assert [f.name for f in plan.listed] == ["big.mp4", "c.txt"]
    assert files_lines(files[:2]) == "📎 a.pdf (10 B)\n📎 big.mp4 (11 B)"
    assert (size_text(1536), size_text(3 * 1024 * 1024 + 1)) == ("1 KB", "3.0 MB")


def test_base64_attachment_is_decoded() -> None:
    data = bytes(range(256)) * 4
    body = (
        "--B\nContent-Type: text/plain\n\nsee file\n--B\n"
        'Content-Type: application/octet-stream; name="blob.bin"\n'
        "Content-Transfer-Encoding: base64\n\n"
        f"{base64.encodebytes(data).decode()}--B--\n"
    )
    read = parse_letter(
        letter('From: a@b.example\nContent-Type: multipart/mixed; boundary="B"', body)
    )
    assert [(a.name, a.data) for a in read.attachments] == [("blob.bin", data)]
