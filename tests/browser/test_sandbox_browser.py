"""The sandbox page in a real headless Chromium (Debian's, driven by Playwright): a person with
a browser walks a lead from the web form to "taken" and "junk", and hostile text stays text.

Chromium is never downloaded: the tests use the system's (`apt-get install chromium`, which
.ci/run does). Without it they are skipped, unless LEADBOT_REQUIRE_BROWSER=1 (CI) makes a
missing browser a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.devtools.sandbox.runner import BOT_TOKEN, Sandbox
from tests.sandbox import ANNA, BORIS, KATE, card_text, recorded_chat, running_sandbox

CHROMIUM = os.environ.get("LEADBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
# flags for a machine without a display or outside network (as CI's)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("LEADBOT_ARTIFACTS") or Path(__file__).parents[2] / "artifacts")

# every chat on the page as the person sees it: message ids, text, inline button labels
PAGE_CHATS = """() => Object.fromEntries([...document.querySelectorAll('.phone')].map(phone => [
  phone.dataset.chatId,
  [...phone.querySelectorAll('.message')].map(m => ({
    id: Number(m.dataset.messageId),
    text: m.querySelector('.text')?.textContent ?? '',
    buttons: [...m.querySelectorAll('.inline-button')].map(b => b.textContent),
  })),
]))"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("LEADBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}") as running:
        yield running


@pytest.fixture
async def page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    page = await browser.new_page(viewport={"width": 1800, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(sandbox.page_url)
    await expect(phone(page, KATE).locator(".message")).to_have_count(2)  # /start, greeting
    yield page
    await page.close()
    assert errors == [], f"the page's script failed: {errors}"


def phone(page: Page, chat_id: int) -> Locator:
    return page.get_by_test_id(f"chat-{chat_id}")


def card(page: Page, chat_id: int, lead_id: int) -> Locator:
    return phone(page, chat_id).locator(".message", has_text=f"Lead #{lead_id} ·")


async def send_web_form(page: Page, **fields: str) -> None:
    await page.get_by_role("button", name="A web form sends a lead").click()
    form = page.locator("#web-form")
    for name, value in fields.items():
        await form.locator(f"[name={name}]").fill(value)
    await page.locator("#web-form-send").click()


async def assert_page_shows_what_telegram_holds(page: Page, sandbox: Sandbox) -> None:
    """Every chat on the page lists exactly the messages the emulator holds, with their text
    as seen and their buttons, once the page has caught up."""
    expected = {str(p.telegram_id): recorded_chat(sandbox, p.telegram_id) for p in sandbox.people}
    try:
        await page.wait_for_function(
            f"expected => JSON.stringify(({PAGE_CHATS})()) === JSON.stringify(expected)",
            arg=expected,
            timeout=5000,
        )
    except Exception:
        shown = await page.evaluate(PAGE_CHATS)
        diff = {k: (shown.get(k), v) for k, v in expected.items() if shown.get(k) != v}
        raise AssertionError(f"page differs from Telegram: {json.dumps(diff)[:3000]}") from None


async def test_a_lead_walks_from_the_web_form_to_taken_and_junk(
    page: Page, sandbox: Sandbox
) -> None:
    # a website's form posts a lead: the page says it was created
    await send_web_form(
        page, name="Maria Ivanova", phone="+7 900 123-45-67", message="Need a quote for 10 windows"
    )
    await expect(page.locator(".page-toast.ok")).to_have_text("Lead #1 created")
    # both managers get the card, with Take and Junk
    for manager in (ANNA, BORIS):
        await expect(card(page, manager, 1)).to_contain_text("👤 Maria Ivanova")
        await expect(card(page, manager, 1).locator(".inline-button")).to_have_text(
            ["✋ Take", "🚫 Refuse", "🗑 Junk"]
        )
    # Anna takes it: she is told it is hers, Boris's card changes to "taken by Anna"
    await card(page, ANNA, 1).get_by_role("button", name="✋ Take").click()
    await expect(phone(page, ANNA).locator(".toast")).to_have_text(
        "Lead #1 is yours. Get in touch with the client!"
    )
    await expect(card(page, BORIS, 1)).to_contain_text("🟡 In work — taken by Anna")
    await expect(card(page, BORIS, 1).locator(".inline-button")).to_have_count(0)
    await expect(card(page, ANNA, 1)).to_contain_text("🟡 In work — yours")
    await expect(card(page, BORIS, 1).locator(".edited")).to_be_visible()

    # a second lead is junk: Boris picks the reason on the card itself
    await send_web_form(
        page, name="Cheap Pills", phone="+7 901 000-00-00", message="Best prices on pills!!!"
    )
    await expect(page.locator(".page-toast.ok").last).to_have_text("Lead #2 created")
    await card(page, BORIS, 2).get_by_role("button", name="🗑 Junk").click()
    await expect(card(page, BORIS, 2).get_by_role("button", name="Spam")).to_be_visible()
    await card(page, BORIS, 2).get_by_role("button", name="Spam").click()
    for manager in (ANNA, BORIS):
        await expect(card(page, manager, 2)).to_contain_text("🗑 Junk")
        await expect(card(page, manager, 2)).to_contain_text("Reason: Spam")
        await expect(card(page, manager, 2).locator(".inline-button")).to_have_count(0)

    assert "taken by Anna" in card_text(sandbox, BORIS, 1)  # the page showed Telegram's state
    await assert_page_shows_what_telegram_holds(page, sandbox)
    await page.screenshot(path=ARTIFACTS / "sandbox.png")  # the README's picture


async def test_hostile_text_shows_as_text_and_never_runs(page: Page, sandbox: Sandbox) -> None:
    """Script tags, an unclosed <b>, an <img onerror>, 10 kB and emoji: each shows as the
    characters typed, on the client's own message and on the managers' cards."""
    script = "<script>window.__pwned = 1</script><b>unclosed 🎉"
    kate = phone(page, KATE)
    await kate.locator(".input").fill(script)
    await kate.locator(".input").press("Enter")
    await expect(kate.locator(".message.out").last).to_contain_text(script)
    await expect(kate.locator(".input")).to_have_value("")

    name = "<script>window.__pwned = 2</script><b>" + "Ж" * 10_000 + " 🎉"
    trap = '<img src=x onerror="window.__pwned = 3">'
    await send_web_form(page, name=name, phone="+7 902 000-00-00", message=trap)
    shown_name = "👤 <script>window.__pwned = 2</script><b>ЖЖЖ"
    # Kate's message is lead #1 (a client writing to the bot); the form's is lead #2
    await expect(card(page, ANNA, 1)).to_contain_text(f"💬 {script}")
    await expect(card(page, ANNA, 2)).to_contain_text(shown_name)
    await expect(card(page, ANNA, 2)).to_contain_text(f"💬 {trap}")

    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("#phones script, #phones img").count() == 0
    await expect(kate.locator(".message.out").last.locator("b")).to_have_count(0)
    await expect(card(page, ANNA, 1).locator(".text b")).to_have_text(["Lead #1"])  # the bot's
    await expect(card(page, ANNA, 2).locator(".text b")).to_have_text(["Lead #2"])
    await assert_page_shows_what_telegram_holds(page, sandbox)


async def test_a_reply_a_shared_contact_and_a_forged_button(page: Page, sandbox: Sandbox) -> None:
    """Kate replies to the bot's greeting and shares her phone; an outdated button press
    gets the bot's alert as a pop-up with OK."""
    kate = phone(page, KATE)
    greeting = kate.locator(".message.in").first
    await greeting.get_by_role("button", name="Reply").click()
    await expect(kate.locator(".reply-bar")).to_be_visible()
    await kate.locator(".input").fill("Do you deliver on Sundays?")
    await kate.locator(".send").click()
    reply = kate.locator(".message.out").last
    await expect(reply.locator(".quote")).to_contain_text("Hello! This is the sales team's bot.")
    await expect(reply.locator(".text")).to_have_text("Do you deliver on Sundays?")
    await expect(kate.locator(".reply-bar")).to_be_hidden()

    # the clip button of the page (the bot's own keyboard offers the same, named with 📱)
    await kate.get_by_role("button", name="Share my phone number", exact=True).click()
    await expect(kate.locator(".message.out").last).to_contain_text("Kate, +79005550101")

    # Kate's question is lead #1; the form's is lead #2. Anna's card of it, junked by Boris
    # meanwhile: her stale Junk press gets an alert
    await send_web_form(page, name="Maria", phone="+7 903 000-00-00")
    stale = card(page, ANNA, 2).get_by_role("button", name="🗑 Junk")
    await expect(stale).to_be_visible()
    await card(page, BORIS, 2).get_by_role("button", name="🗑 Junk").click()
    await card(page, BORIS, 2).get_by_role("button", name="Spam").click()
    await expect(card(page, ANNA, 2)).to_contain_text("Reason: Spam")
    state = await page.evaluate(PAGE_CHATS)
    assert state[str(ANNA)][-1]["buttons"] == []  # the page dropped the buttons with the edit
    message_id = state[str(ANNA)][-1]["id"]
    query = sandbox.press(ANNA, message_id, "forged:button")  # not a button the bot offered
    await sandbox.emulator.wait_for(lambda: sandbox.emulator.callback_answer(query))
    alert = phone(page, ANNA).locator(".alert")
    await expect(alert).to_be_visible()
    await expect(alert.locator(".alert-text")).to_have_text(
        sandbox.emulator.callback_answer(query)["text"]
    )
    await alert.get_by_role("button", name="OK").click()
    await expect(alert).to_be_hidden()
    await assert_page_shows_what_telegram_holds(page, sandbox)


async def test_a_narrow_screen_shows_one_chat_at_a_time(browser: Browser, sandbox: Sandbox) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    try:
        await page.goto(sandbox.page_url)
        await expect(phone(page, ANNA)).to_be_visible()
        await expect(phone(page, BORIS)).to_be_hidden()
        await expect(phone(page, ANNA).locator(".composer")).to_be_in_viewport()
        # a lead arrives: Anna sees her card, Boris's tab counts his unseen one
        await send_web_form(page)
        await expect(card(page, ANNA, 1)).to_be_visible()
        boris = page.get_by_role("tab", name="Boris")
        await expect(boris.locator(".badge")).to_have_text("1")
        await boris.click()
        await expect(card(page, BORIS, 1)).to_be_visible()
        await expect(phone(page, ANNA)).to_be_hidden()
        await expect(boris.locator(".badge")).to_be_hidden()
    finally:
        await page.close()


async def test_the_clock_control_moves_the_shown_time(page: Page, sandbox: Sandbox) -> None:
    before = sandbox.clock.now()
    shown = await page.locator("#clock").get_attribute("datetime")
    await page.get_by_role("button", name="+1 h").click()
    await expect(page.locator("#clock")).not_to_have_attribute("datetime", shown or "")
    assert (sandbox.clock.now() - before).total_seconds() == 3600
    moved: Any = await page.locator("#clock").get_attribute("datetime")
    assert moved.startswith(sandbox.clock.now().strftime("%Y-%m-%dT%H:"))


async def _as_the_bot(sandbox: Sandbox, method: str, **params: Any) -> dict[str, Any]:
    """Call the emulated Bot API as leadbot would (files as multipart, the rest as JSON)."""
    url = f"{sandbox.emulator.base_url}/bot{BOT_TOKEN}/{method}"
    async with aiohttp.ClientSession() as http:
        if any(isinstance(value, bytes) for value in params.values()):
            form = aiohttp.FormData()
            for key, value in params.items():
                if isinstance(value, bytes):
                    form.add_field(key, value, filename=f"{key}.bin")
                else:
                    form.add_field(key, str(value))
            request = http.post(url, data=form)
        else:
            request = http.post(url, json=params)
        async with request as response:
            answer = await response.json()
    assert answer["ok"], answer
    return answer["result"]


async def test_photos_documents_keyboards_and_deletions_show_as_in_telegram(
    page: Page, sandbox: Sandbox
) -> None:
    """What the bot will send clients (the channels issue): a photo and a document show as
    such with their captions, a reply keyboard sits under the input and its contact button
    shares the phone, a deleted message disappears."""
    kate = phone(page, KATE)
    await _as_the_bot(
        sandbox,
        "sendPhoto",
        chat_id=KATE,
        photo=b"\x89PNG fake",
        caption="Your <b>invoice</b>",
        parse_mode="HTML",
    )
    await _as_the_bot(
        sandbox, "sendDocument", chat_id=KATE, document=b"%PDF fake", caption="Contract"
    )
    keyboard = {
        "keyboard": [[{"text": "📱 Share phone", "request_contact": True}], [{"text": "Skip"}]],
        "one_time_keyboard": True,
    }
    asked = await _as_the_bot(
        sandbox, "sendMessage", chat_id=KATE, text="Leave your phone?", reply_markup=keyboard
    )
    await expect(kate.locator(".media-photo")).to_have_text("🖼 Photo")
    photo = kate.locator(".message", has=page.locator(".media-photo"))
    await expect(photo.locator(".text")).to_have_text("Your invoice")
    await expect(photo.locator(".text b")).to_have_text("invoice")
    await expect(kate.locator(".media-document")).to_have_text("📄 Document")
    keys = kate.locator(".keyboard .keyboard-button")
    await expect(keys).to_have_text(["📱 Share phone", "Skip"])

    await kate.get_by_role("button", name="📱 Share phone").click()
    await expect(kate.locator(".message.out").last).to_contain_text("Kate, +79005550101")
    shared = [m for m in sandbox.emulator.chat_history(KATE) if "contact" in m]
    assert shared[-1]["contact"]["phone_number"] == "+79005550101"
    # the shared phone made Kate a lead: thanked, and the managers got its card
    await expect(kate.locator(".message.in").last).to_contain_text("we have your number")
    for manager in (ANNA, BORIS):
        await expect(card(page, manager, 1)).to_be_visible()

    await _as_the_bot(sandbox, "deleteMessage", chat_id=KATE, message_id=asked["message_id"])
    await expect(kate.locator(f'[data-message-id="{asked["message_id"]}"]')).to_have_count(0)
    await _as_the_bot(
        sandbox, "sendMessage", chat_id=KATE, text="Thanks!", reply_markup={"remove_keyboard": True}
    )
    await expect(kate.locator(".keyboard")).to_be_hidden()
    await assert_page_shows_what_telegram_holds(page, sandbox)


async def test_the_bots_command_menu_follows_scope_and_language(
    page: Page, sandbox: Sandbox
) -> None:
    """setMyCommands as Telegram resolves it: leadbot gives each staff member their role's
    commands in their chat's scope and everyone else the client's; a later list for a scope
    replaces it; a menu entry sends the command."""
    kate, anna = phone(page, KATE), phone(page, ANNA)
    await anna.get_by_role("button", name="Menu").click()
    await expect(anna.locator(".command-item")).to_have_text(
        [
            "/leads Lead lists: mine, new, call-backs, overdue",
            "/find Find a lead: phone, name, e-mail or #id",
            "/report Report: funnel, channels, managers, reasons, charts",
            "/channel How a client wants to be reached: /channel 12 phone",
            "/duty Go on or off duty",
            "/cancel Cancel the current dialogue",
        ]
    )
    await anna.get_by_role("button", name="Menu").click()
    await _as_the_bot(
        sandbox,
        "setMyCommands",
        language_code="en",
        commands=[{"command": "start", "description": "Start over"}],
    )
    await _as_the_bot(
        sandbox,
        "setMyCommands",
        scope={"type": "chat", "chat_id": ANNA},
        commands=[{"command": "leads", "description": "My leads"}],
    )
    await kate.get_by_role("button", name="Menu").click()
    await expect(kate.locator(".command-item")).to_have_text(["/start Start over"])
    await anna.get_by_role("button", name="Menu").click()
    await expect(anna.locator(".command-item")).to_have_text(["/leads My leads"])
    await kate.locator(".command-item").click()
    await expect(kate.locator(".message.out").last.locator(".text")).to_have_text("/start")
    await expect(kate.locator(".commands")).to_be_hidden()
