"""The emulated Bot API answers as Telegram would, so a bot that passes here works there.

Most tests drive the emulator with a real aiogram Bot (what leadbot uses); requests aiogram
would refuse to build are sent raw. Each test says what a Telegram user would see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from aiohttp import web

from bot.adapters.telegram.session import BotApiSession
from bot.devtools.emulator import TelegramEmulator
from bot.devtools.emulator.telegram_html import EntityParseError, parse_html, utf16_len

TOKEN = "123456:ABC-emulator-test-token"
ANNA, BORIS, TEAM = 1001, 1002, -1001234567890


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(token=TOKEN, bot_username="leadbot_test_bot")
    await emulator.start(host="127.0.0.1", port=0)
    emulator.add_user(ANNA, "Anna", language_code="ru")
    emulator.add_user(BORIS, "Boris", language_code="en", username="boris")
    emulator.add_group(TEAM, "Sales team")
    yield emulator
    await emulator.stop()


def make_bot(emu: TelegramEmulator, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        session=BotApiSession(emu.base_url),
        default=DefaultBotProperties(parse_mode="HTML"),
    )


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emu)
    yield bot
    await bot.session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw(
    http: aiohttp.ClientSession,
    emu: TelegramEmulator,
    method: str,
    token: str = TOKEN,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emu.base_url}/bot{token}/{method}", json=params) as response:
        return response.status, await response.json()


def keyboard(*data: str) -> dict[str, Any]:
    return {
        "inline_keyboard": [[{"text": f"b{i}", "callback_data": d} for i, d in enumerate(data)]]
    }


# --- the bot and its messages ------------------------------------------------------------


async def test_get_me_names_the_bot(bot: Bot) -> None:
    """The bot's profile: the id is the number before ':' in the token."""
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "leadbot_test_bot")


async def test_valid_html_reaches_the_user_as_formatted_text(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """Anna sees bold "Lead", the escaped <script> as plain text, and the emoji."""
    sent = await bot.send_message(
        ANNA, "<b>Lead</b> &lt;script&gt; &amp; 😀 <a href='https://x.ru/?a=1&amp;b=2'>site</a>"
    )
    assert sent.text == "Lead <script> & 😀 site"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [
        ("bold", 0, 4),
        ("text_link", 19, 4),  # the emoji before it counts two UTF-16 units
    ]
    assert sent.entities and sent.entities[1].url == "https://x.ru/?a=1&b=2"
    [stored] = emu.chat_messages(ANNA)
    assert stored.text == sent.text and stored.message_id == sent.message_id
    assert stored.source_text.startswith("<b>Lead</b>") and stored.parse_mode == "HTML"


async def test_unescaped_script_tag_is_rejected(bot: Bot, emu: TelegramEmulator) -> None:
    """Telegram refuses the message: Anna would get nothing at all."""
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as caught:
        await bot.send_message(ANNA, "Name: <script>alert(1)</script>")
    assert 'Unsupported start tag "script" at byte offset 6' in caught.value.message
    assert emu.chat_messages(ANNA) == []
    assert emu.requests[-1].status == 400  # failed requests are recorded too


async def test_unclosed_bold_is_rejected(bot: Bot) -> None:
    """An unclosed tag fails the whole message."""
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag"):
        await bot.send_message(ANNA, "<b>Lead #1")


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'Character "&" must be escaped'),
        ("&nbsp;", 'Character "&" must be escaped'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("line<br>", 'Unsupported start tag "br"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("Лид <b", "Unclosed start tag at byte offset 7"),  # offsets are in UTF-8 bytes
    ],
)
def test_invalid_html_is_refused_with_telegrams_reason(html: str, reason: str) -> None:
    """Each of these makes Telegram refuse the message, so the user would see nothing."""
    with pytest.raises(EntityParseError, match="^" + reason.replace("(", r"\(")):
        parse_html(html)


def test_every_supported_tag_becomes_an_entity() -> None:
    """What a user sees formatted: each tag Telegram documents maps to its entity."""
    parsed = parse_html(
        "<strong>b</strong><em>i</em><ins>u</ins><del>s</del><tg-spoiler>h</tg-spoiler>"
        '<span class="tg-spoiler">h</span><code>c</code>'
        '<pre><code class="language-python">p</code></pre>'
        "<blockquote expandable>q</blockquote><blockquote>r</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>&#x1F600;&#33;&quot;<b>x</>'
    )
    assert parsed.text == 'biushhcpqr👍😀!"x'
    kinds = [e["type"] for e in parsed.entities]
    assert kinds == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "pre",
        "expandable_blockquote",
        "blockquote",
        "custom_emoji",
        "bold",
    ]
    assert parsed.entities[7]["language"] == "python"


async def test_4096_utf16_units_fit_and_one_more_does_not(bot: Bot) -> None:
    """The limit is 4096 UTF-16 units after markup is removed; an emoji takes two."""
    await bot.send_message(ANNA, "<b>" + "a" * 4096 + "</b>")  # tags do not count
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ANNA, "a" * 4097)
    assert utf16_len("😀" * 2048) == 4096
    await bot.send_message(ANNA, "😀" * 2048)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ANNA, "😀" * 2048 + "a")


async def test_text_empty_after_markup_is_rejected(bot: Bot) -> None:
    """Only tags and spaces: Telegram has nothing to show and refuses."""
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ANNA, "<b> </b>\n")


async def test_callback_data_is_limited_to_64_bytes(
    http: aiohttp.ClientSession, emu: TelegramEmulator
) -> None:
    """A keyboard with 65-byte data is refused; Cyrillic takes two bytes a letter."""
    status, body = await raw(
        http, emu, "sendMessage", chat_id=ANNA, text="card", reply_markup=keyboard("x" * 65)
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    status, _ = await raw(
        http, emu, "sendMessage", chat_id=ANNA, text="card", reply_markup=keyboard("ж" * 32)
    )
    assert status == 200
    status, _ = await raw(
        http, emu, "sendMessage", chat_id=ANNA, text="card", reply_markup=keyboard("ж" * 32 + "a")
    )
    assert status == 400
    assert len(emu.chat_messages(ANNA)) == 1


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "Take"}, "text buttons are unallowed in the inline keyboard"),
        ({"text": "Take", "callback_data": "t", "url": "https://x.ru"}, "exactly one of"),
        ({"text": "", "callback_data": "t"}, "Text must be non-empty"),
        ({"text": "Go", "url": "javascript:alert(1)"}, "Unsupported URL protocol"),
    ],
)
async def test_malformed_buttons_are_refused(
    http: aiohttp.ClientSession, emu: TelegramEmulator, button: dict[str, Any], description: str
) -> None:
    """Telegram refuses the whole message when one button is wrong."""
    status, body = await raw(
        http,
        emu,
        "sendMessage",
        chat_id=ANNA,
        text="card",
        reply_markup={"inline_keyboard": [[button]]},
    )
    assert status == 400 and description in body["description"]


async def test_unknown_and_missing_parameters_are_refused(
    http: aiohttp.ClientSession, emu: TelegramEmulator
) -> None:
    """A typo in a parameter name is an error here, not silently ignored."""
    status, body = await raw(http, emu, "sendMessage", chat_id=ANNA, text="hi", colour="red")
    assert status == 400
    assert body["description"] == 'Bad Request: unknown parameter "colour" for method sendMessage'
    status, body = await raw(http, emu, "sendMessage", chat_id=ANNA)
    assert (status, body["description"]) == (400, 'Bad Request: parameter "text" is required')
    assert [r.status for r in emu.requests] == [400, 400]


async def test_legacy_parameters_telegram_still_accepts(
    http: aiohttp.ClientSession, emu: TelegramEmulator
) -> None:
    """Older parameter names still work, and replying to a missing message does not."""
    status, _ = await raw(
        http, emu, "sendMessage", chat_id=ANNA, text="a", disable_web_page_preview=True
    )
    assert status == 200
    status, _ = await raw(http, emu, "sendMessage", chat_id=ANNA, text="b", reply_to_message_id=1)
    assert status == 200
    status, body = await raw(
        http, emu, "sendMessage", chat_id=ANNA, text="c", reply_to_message_id=99
    )
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")


async def test_wrong_token_and_unknown_method(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    """A bot with a revoked token is told Unauthorized; a made-up method is Not Found."""
    stranger = make_bot(emu, token="999:wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    assert await raw(http, emu, "getMe", token="999:wrong") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert await raw(http, emu, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_form_query_string_and_json_bodies_are_all_understood(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    """However a client encodes a call, the message reaches Anna the same way."""
    url = f"{emu.base_url}/bot{TOKEN}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "a", "url": "https://x.ru"}]]}'
    form = aiohttp.FormData({"chat_id": str(ANNA), "text": "form", "reply_markup": markup})
    async with http.post(url, data=form) as response:
        assert response.status == 200
    async with http.get(url, params={"chat_id": str(ANNA), "text": "query"}) as response:
        assert response.status == 200
    async with http.post(url, json={"chat_id": ANNA, "text": "json"}) as response:
        assert response.status == 200
    assert [m.text for m in emu.chat_messages(ANNA)] == ["form", "query", "json"]
    assert (
        emu.calls("sendMessage")[0].params["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    )


# --- edits, deletes, copies ----------------------------------------------------------------


async def test_edit_with_nothing_changed_is_refused(bot: Bot, emu: TelegramEmulator) -> None:
    """Re-sending the same card is an error; changing the text or the buttons is not."""
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take")]]
    )
    sent = await bot.send_message(ANNA, "<b>Lead #1</b>", reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<b>Lead #1</b>", chat_id=ANNA, message_id=sent.message_id, reply_markup=markup
        )
    # an edit without reply_markup removes the keyboard, as Telegram does
    await bot.edit_message_text("<b>Lead #1</b>", chat_id=ANNA, message_id=sent.message_id)
    card = emu.message(ANNA, sent.message_id)
    assert card is not None and card.reply_markup is None and card.edit_count == 1
    assert card.history[0].reply_markup == markup.model_dump(exclude_none=True)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ANNA, message_id=sent.message_id)


async def test_editing_a_missing_message_is_refused(bot: Bot, emu: TelegramEmulator) -> None:
    """A card that was never sent (or was deleted) cannot be edited."""
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANNA, message_id=42)
    sent = await bot.send_message(ANNA, "bye")
    await bot.delete_message(ANNA, sent.message_id)
    assert emu.chat_messages(ANNA) == [] and emu.message(ANNA, sent.message_id) is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANNA, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ANNA, sent.message_id)


async def test_copy_of_a_users_message_lands_in_the_team_chat(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """Anna's text appears in the group as a message from the bot."""
    written = emu.send_text(ANNA, "Client asks for a discount")
    copied = await bot.copy_message(TEAM, ANNA, written["message_id"])
    [in_group] = emu.chat_messages(TEAM)
    assert (in_group.message_id, in_group.text) == (copied.message_id, "Client asks for a discount")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100999, "nobody here")


async def test_photo_upload_leaves_a_message_with_its_caption(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """Methods the emulator does not model still validate and answer what aiogram expects."""
    photo = BufferedInputFile(b"\x89PNG fake", filename="lead.png")
    sent = await bot.send_photo(ANNA, photo, caption="<i>Lead #1</i> photo")
    assert sent.caption == "Lead #1 photo" and sent.text is None
    [stored] = emu.chat_messages(ANNA)
    assert (stored.kind, stored.text) == ("sendPhoto", "Lead #1 photo")
    assert emu.calls("sendPhoto")[0].params["photo"] == "attach:lead.png"
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(ANNA, photo, caption="x" * 1025)
    forwarded = await bot.forward_message(BORIS, ANNA, sent.message_id)
    assert forwarded.chat.id == BORIS and emu.chat_messages(BORIS)[0].text == "Lead #1 photo"


async def test_a_document_upload_is_kept_with_its_name_and_bytes(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """sendDocument (a report's file): the caption is the message, the file's name and bytes
    are kept for the test to read; a caption past 1024 characters is refused."""
    document = BufferedInputFile("\ufeffid;name\r\n1;Ivan\r\n".encode(), filename="leads.csv")
    sent = await bot.send_document(ANNA, document, caption="<b>Leads</b>, 1 Nov – 15 Nov")
    assert sent.caption == "Leads, 1 Nov – 15 Nov"
    [stored] = emu.chat_messages(ANNA)
    assert (stored.kind, stored.text) == ("sendDocument", "Leads, 1 Nov – 15 Nov")
    assert emu.calls("sendDocument")[0].params["document"] == "attach:leads.csv"
    assert emu.state.uploads[-1] == ("leads.csv", "\ufeffid;name\r\n1;Ivan\r\n".encode())
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(ANNA, document, caption="x" * 1025)


async def test_an_audio_upload_is_checked_against_the_api_and_kept(
    bot: Bot, emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    """sendAudio (a call recording) as multipart: the file's bytes kept, title and duration
    read as api.json types them; without the audio, or with a duration that is not a number,
    Telegram's own refusals."""
    audio = BufferedInputFile(b"ID3\x03fake-mp3", filename="lead-1-call-1.mp3")
    sent = await bot.send_audio(ANNA, audio, title="Lead #1 · 5 Jan 12:20", duration=155)
    assert sent.chat.id == ANNA
    [call] = emu.calls("sendAudio")
    assert (call.params["audio"], call.params["title"], call.params["duration"]) == (
        "attach:lead-1-call-1.mp3",
        "Lead #1 · 5 Jan 12:20",
        155,
    )
    assert emu.state.uploads[-1] == ("lead-1-call-1.mp3", b"ID3\x03fake-mp3")
    url = f"{emu.base_url}/bot{TOKEN}/sendAudio"
    form = aiohttp.FormData({"chat_id": str(ANNA), "title": "x"})
    async with http.post(url, data=form) as missing:
        assert missing.status == 400
        assert (await missing.json())["description"] == 'Bad Request: parameter "audio" is required'
    form = aiohttp.FormData({"chat_id": str(ANNA), "duration": "two minutes"})
    form.add_field("audio", b"ID3", filename="a.mp3")
    async with http.post(url, data=form) as wrong:
        assert wrong.status == 400
        assert "must be an Integer" in (await wrong.json())["description"]


async def test_a_users_document_is_described_by_get_file_and_downloaded(
    bot: Bot, emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    """A user sends a file; the bot asks getFile for it (a File with its size and path, as
    the Bot API describes it) and downloads it from /file/bot<token>/<path>, as aiogram's
    Bot.download does. An unknown id is refused; a wrong token or path is 404."""
    content = "Имя;Телефон\r\nИван;+79001234567\r\n".encode("cp1251")
    message = emu.send_document(ANNA, "leads.csv", content)
    assert message["document"]["file_name"] == "leads.csv"
    assert message["document"]["file_size"] == len(content)
    described = await bot.get_file(message["document"]["file_id"])
    assert (described.file_size, described.file_path) == (len(content), "documents/file_1.csv")
    downloaded = await bot.download(message["document"]["file_id"])
    assert downloaded is not None and downloaded.read() == content
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("document-999")
    async with http.get(f"{emu.base_url}/file/bot{TOKEN}/documents/file_9.csv") as missing:
        assert missing.status == 404
    async with http.get(f"{emu.base_url}/file/bot1:wrong/documents/file_1.csv") as forged:
        assert forged.status == 404
    downloads = [r.status for r in emu.requests if r.method == "download"]
    assert downloads == [200, 404, 404]


async def test_commands_chat_action_and_chat_info(bot: Bot) -> None:
    """The command menu round-trips per language; a chat action needs a known action."""
    await bot.set_my_commands(
        [BotCommand(command="start", description="Start")], language_code="ru"
    )
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["start"]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start!", description="x")])
    assert await bot.send_chat_action(ANNA, "typing") is True
    chat = await bot.get_chat(TEAM)
    assert (chat.type, chat.title) == ("supergroup", "Sales team")


# --- failures ------------------------------------------------------------------------------


async def test_429_tells_the_bot_how_long_to_wait(bot: Bot, emu: TelegramEmulator) -> None:
    """Telegram throttles: nothing is delivered, and the bot learns retry_after."""
    emu.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ANNA, "card")
    assert caught.value.retry_after == 7
    assert emu.requests[-1].response["parameters"] == {"retry_after": 7}
    await bot.send_message(ANNA, "card")  # only the next call was failed
    assert len(emu.chat_messages(ANNA)) == 1


async def test_5xx_and_an_outage_are_server_errors(bot: Bot, emu: TelegramEmulator) -> None:
    """Telegram's gateway fails: aiogram raises TelegramServerError, nothing is delivered."""
    emu.fail_next(None, 502, count=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(ANNA, "card")
    emu.set_down(True)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert await bot.get_updates(timeout=0) == []  # getUpdates still answers by default
    emu.set_down(False)
    await bot.send_message(ANNA, "card")
    assert [r.status for r in emu.requests if r.method == "sendMessage"] == [502, 502, 200]


async def test_a_fault_for_one_chat_leaves_the_others_alone(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """Telegram fails only the messages to Boris's chat: Anna's go through meanwhile."""
    emu.fail_next("sendMessage", 502, count=1, chat_id=BORIS)
    await bot.send_message(ANNA, "card")
    with pytest.raises(TelegramServerError):
        await bot.send_message(BORIS, "card")
    await bot.send_message(BORIS, "card")  # the one scripted failure was used
    assert [len(emu.chat_messages(chat)) for chat in (ANNA, BORIS)] == [1, 1]


async def test_blocked_user_is_forbidden(bot: Bot, emu: TelegramEmulator) -> None:
    """Boris blocked the bot: nothing reaches him until he writes to it again."""
    emu.block_bot(BORIS)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(BORIS, "card")
    emu.send_text(BORIS, "/start")
    await bot.send_message(BORIS, "welcome back")
    assert [m.text for m in emu.chat_messages(BORIS)] == ["welcome back"]


async def test_flood_limits_answer_429_beyond_the_burst(bot: Bot, emu: TelegramEmulator) -> None:
    """Sending a fourth message to Anna at once exceeds 1/s after a burst of 3."""
    emu.enforce_flood_limits(per_chat_per_second=1.0, per_chat_burst=3)
    for n in range(3):
        await bot.send_message(ANNA, f"card {n}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ANNA, "card 3")
    assert caught.value.retry_after >= 1 and emu.flood_errors == 1
    await bot.send_message(BORIS, "another chat has its own allowance")
    assert len(emu.chat_messages(ANNA)) == 3


# --- updates: what users do ----------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_the_user_writes(
    bot: Bot, emu: TelegramEmulator
) -> None:
    """Anna's /start reaches the bot at once, not at the end of the 10 s poll."""
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_for(lambda: emu.long_polls_waiting == 1, timeout=2)
    started = time.monotonic()
    emu.send_text(ANNA, "/start")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert time.monotonic() - started < 1
    [update] = updates
    assert update.message is not None and update.message.text == "/start"
    assert update.message.entities and update.message.entities[0].type == "bot_command"
    assert update.message.from_user and update.message.from_user.language_code == "ru"
    assert emu.updates_pending == 1  # not confirmed until the next offset
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    assert emu.updates_pending == 0


async def test_second_poller_terminates_the_first(bot: Bot, emu: TelegramEmulator) -> None:
    """Two bot instances polling at once: Telegram ends the older poll with 409."""
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for(lambda: emu.long_polls_waiting == 1, timeout=2)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=2)
    assert await second == []


async def test_button_press_and_its_answer(bot: Bot, emu: TelegramEmulator) -> None:
    """Anna presses Take: the bot gets the query with the card, and she sees its answer."""
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="lead:take:1")]]
    )
    card = await bot.send_message(ANNA, "<b>Lead #1</b>", reply_markup=markup)
    query_id = emu.press_button(ANNA, ANNA, card.message_id, "lead:take:1")
    [update] = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "lead:take:1"
    assert query.message is not None and query.message.reply_markup is not None
    assert query.message.reply_markup.model_dump() == markup.model_dump()
    await bot.answer_callback_query(query_id, text="Lead #1 is yours", show_alert=True)
    assert emu.callback_answer(query_id) == {
        "callback_query_id": query_id,
        "text": "Lead #1 is yours",
        "show_alert": True,
    }
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id, text="again")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("forged-id")


async def test_updates_parse_with_aiogram(
    bot: Bot, emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    """The raw JSON the bot receives is valid for aiogram's own Update model."""
    card = await bot.send_message(
        TEAM,
        "card",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take")]]
        ),
    )
    emu.send_text(BORIS, "hello team", chat_id=TEAM)
    emu.press_button(BORIS, TEAM, card.message_id, "take")
    status, body = await raw(http, emu, "getUpdates")
    assert status == 200
    updates = [Update.model_validate(item, context={"bot": bot}) for item in body["result"]]
    assert updates[0].message and updates[0].message.chat.title == "Sales team"
    assert updates[0].message.from_user and updates[0].message.from_user.username == "boris"
    assert updates[1].callback_query and updates[1].callback_query.message
    assert [u.update_id for u in updates] == [1, 2]


async def test_webhook_receives_updates_and_blocks_polling(bot: Bot, emu: TelegramEmulator) -> None:
    """In webhook mode Anna's message is POSTed to the bot; getUpdates is a conflict."""
    received: asyncio.Queue[tuple[dict[str, Any], str | None]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        await received.put((await request.json(), secret))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host, port = runner.addresses[0][:2]
        with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
        await bot.set_webhook(f"http://{host}:{port}/hook", secret_token="s3cret")
        emu.send_text(ANNA, "hi")
        update, secret = await asyncio.wait_for(received.get(), timeout=2)
        assert update["message"]["text"] == "hi" and secret == "s3cret"
        await emu.wait_for(lambda: emu.updates_pending == 0, timeout=2)
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
    finally:
        await runner.cleanup()


# --- the harness itself --------------------------------------------------------------------


async def test_wait_for_times_out_with_the_recent_requests(bot: Bot, emu: TelegramEmulator) -> None:
    """A test waiting for a message that never comes fails with what the bot did instead."""
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(ANNA, "<oops>")
    with pytest.raises(TimeoutError) as caught:
        await emu.wait_for(lambda: emu.chat_messages(ANNA)[0], timeout=0.05)
    report = str(caught.value)
    assert "sendMessage -> 400" in report and "IndexError" in report


async def test_observers_see_every_change(bot: Bot, emu: TelegramEmulator) -> None:
    """The sandbox page learns of each message as it happens."""
    events = emu.subscribe()
    emu.send_text(ANNA, "hi")
    sent = await bot.send_message(ANNA, "hello")
    await bot.edit_message_text("hello!", chat_id=ANNA, message_id=sent.message_id)
    await bot.delete_message(ANNA, sent.message_id)
    seen = [events.get_nowait()["event"] for _ in range(events.qsize())]
    assert seen == ["user_message", "message_sent", "message_edited", "message_deleted"]
    assert [m["text"] for m in emu.chat_history(ANNA)] == ["hi"]
