"""End to end: importing a lead list from the phone, through the real bot and the emulated Bot
API. Sveta (supervisor, Russian) sends Bitrix24's lead list as a document: the bot downloads
it (getFile, then the file link), shows what it found and what importing it would do, and
asks what to do with the people we already know; she picks, the preview becomes the
progress message and then the counts, and the rows that could not be imported come back as a
file with the reason. Imported leads send no card to anyone. Anna (manager, English) is told
the import is for supervisors; her forged press changes nothing; and while a long import
runs, her press on a card is answered at once.

A client, Катя (+7 900 111-22-33), wrote through the site before the import."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import Application
from bot.devtools.emulator import TelegramEmulator
from bot.intake.imports import apply as applying
from bot.intake.input import LeadInput
from bot.intake.store import intake_leads
from handlers.import_desk import ImportDesk
from storage.models import Lead, LeadEvent, LeadStatus, OutboxMessage, Staff
from tests.harness import ANNA, BORIS, STRANGER, SVETA, Phone, card_buttons, outbox_sent
from tests.import_files import BITRIX_RU, table_rows

ROWS = [
    {  # a deal of Anna's
        "ID": "101",
        "Название лида": "Заявка с сайта",
        "Имя": "Иван",
        "Фамилия": "Петров",
        "Статус": "Качественный лид",
        "Ответственный": "Anna",
        "Дата создания": "05.11.2025 10:00:00",
        "Дата изменения": "06.11.2025 15:30:00",
        "Мобильный телефон": "+7 900 123-45-67",
        "Сумма": "54 700,50",
    },
    {  # Катя, her phone written another way
        "ID": "102",
        "Имя": "Катя <b>K</b>",
        "Статус": "В работе",
        "Дата создания": "06.11.2025 11:00:00",
        "Рабочий телефон": "8 (900) 111-22-33",
        "Рабочий e-mail": "kate@example.com",
    },
    {  # an unreadable phone
        "ID": "103",
        "Имя": "Broken",
        "Дата создания": "07.11.2025 12:00:00",
        "Мобильный телефон": "abc",
    },
    {  # open, nobody's: new, in the pool (no card sent for it)
        "ID": "104",
        "Имя": "Мария",
        "Статус": "Не обработан",
        "Дата создания": "08.11.2025 09:00:00",
        "Мобильный телефон": "+79005556677",
    },
]


def bitrix_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(BITRIX_RU)
    writer.writerows(table_rows(BITRIX_RU, rows))
    return buffer.getvalue().encode("cp1251")


def desk(app: Application) -> ImportDesk:
    found = app.dispatcher["import_desk"]
    assert isinstance(found, ImportDesk)
    return found


async def until_idle(app: Application) -> None:
    """The import's background work is done (its last message edited, its file sent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while desk(app).running:
        assert loop.time() < deadline, "the import is still running after 30 s"
        await asyncio.sleep(0.02)


async def kate(app: Application) -> int:
    """Катя's lead from the site, before the import."""
    lead = LeadInput(source="web_form", phone="+79001112233", message="call me")
    async with app.sessions() as session:
        [result] = await intake_leads(session, [lead], app.clock.now())
    return result.lead_id


async def test_a_supervisor_imports_bitrix24s_list_from_the_phone(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    for person in (ANNA, BORIS, SVETA):
        await Phone(emulator, person).write("/start")
    kate_lead = await kate(app)
    await outbox_sent(app.sessions)
    anna, sveta = Phone(emulator, ANNA), Phone(emulator, SVETA)
    anna_before = len(anna.messages())
    async with app.sessions() as session:
        outbox_before = await session.scalar(select(func.count()).select_from(OutboxMessage))

    before = len(sveta.messages())
    emulator.send_document(SVETA, "лиды.csv", bitrix_csv(ROWS))
    preview = await sveta.next_message(before, "лиды.csv")
    preview = await sveta.until(preview, "Что делать с уже знакомыми?")
    text = preview.text
    # what was found: Bitrix24's list, cp1251, ";" ; the columns as read; the counts
    assert text.startswith("📥 лиды.csv: выгрузка Битрикс24, CSV, cp1251, ячейки разделены «;»")
    assert "• Мобильный телефон → телефон" in text and "• Ответственный → ответственный" in text
    assert "Не берём: Дополнительно о статусе, Дополнительно об источнике, Валюта" in text
    assert "Строк: 4" in text and "🆕 Новых лидов: 2" in text
    assert "👥 Уже знакомых (по телефону или e-mail): 1" in text
    assert "⛔️ Не загрузить: 1" in text
    assert "Из них закрытых: сделок 1, отказов 0, мусора 0" in text
    assert "• строка 4: не телефон в «Мобильный телефон»: abc" in text
    assert sveta.button_texts(preview) == [
        "⏭ Загрузить, знакомых пропустить",
        "📎 Загрузить, знакомым — в историю лида",
        "✏️ Загрузить, знакомым — заполнить пустые поля",
        "✖ Отмена",
    ]
    # downloaded through the Bot API: getFile, then the file's link
    assert [r.params["file_id"] for r in emulator.calls("getFile")] == ["document-1"]
    async with app.sessions() as session:  # nothing written before the choice
        assert await session.scalar(select(func.count()).select_from(Lead)) == 1

    old_buttons = card_buttons(sveta.now(preview))
    answer = await sveta.press(preview, "imp:")
    update_data = next(data for _, data in old_buttons if data.endswith(":update"))
    await sveta.until(preview, "✅")
    await until_idle(app)
    done = sveta.now(preview).text
    assert "🆕 Создано лидов: 2" in done
    assert "⏭ Знакомых пропущено: 1" in done  # the first button: skip
    assert "⛔️ Не загружено: 1 (они в файле ниже, с причиной)" in done
    assert sveta.button_texts(preview) == []
    assert answer.get("text") is None  # the press answered without a pop-up
    # the rows not imported, as a file: its row, the reason, the row as it was
    [sent] = [r for r in emulator.calls("sendDocument") if r.params["chat_id"] == SVETA]
    name, content = emulator.state.uploads[-1]
    assert name == "лиды_не_загружены.csv"
    rejected = list(csv.reader(content.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rejected[0][:3] == ["Строка", "Причина", "ID"]
    assert rejected[1][:3] == ["4", "не телефон в «Мобильный телефон»: abc", "103"]
    assert "Не загружено строк из" in sent.params["caption"]
    # a late press of the same preview: out of date, nothing happens again
    late = await sveta.press_data(preview, update_data)
    assert late["show_alert"] and "устарел" in late["text"]

    async with app.sessions() as session:
        deal = await session.scalar(select(Lead).where(Lead.phone == "+79001234567"))
        assert deal is not None and deal.status == LeadStatus.CONVERTED
        assert deal.owner_id == staff["anna"].id
        kept = await session.get(Lead, kate_lead)
        assert kept is not None and kept.name is None  # skipped: untouched
        imported = await session.scalar(
            select(func.count()).select_from(LeadEvent).where(LeadEvent.kind == "imported")
        )
        assert imported == 2
        outbox_after = await session.scalar(select(func.count()).select_from(OutboxMessage))
    # not a card, not a message: the only outbox rows are none at all
    assert outbox_after == outbox_before
    await outbox_sent(app.sessions)
    assert len(anna.messages()) == anna_before


async def test_people_we_know_get_their_empty_fields_filled(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Update: Катя's lead gets her name and e-mail from the file, what she wrote stays."""
    kate_lead = await kate(app)
    sveta = Phone(emulator, SVETA)
    before = len(sveta.messages())
    emulator.send_document(SVETA, "list.csv", bitrix_csv(ROWS[1:2]))
    preview = await sveta.next_message(before, "list.csv")
    preview = await sveta.until(preview, "Что делать")
    update = next(data for _, data in card_buttons(preview) if data.endswith(":update"))
    await sveta.press_data(preview, update)
    await sveta.until(preview, "✅")
    await until_idle(app)
    assert "✏️ Прежних лидов дополнено: 1" in sveta.now(preview).text
    async with app.sessions() as session:
        lead = await session.get(Lead, kate_lead)
        assert lead is not None
        assert (lead.name, lead.email, lead.message) == (
            "Катя <b>K</b>",
            "kate@example.com",
            "call me",
        )


async def test_cancel_writes_nothing_and_an_unreadable_file_is_named(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    sveta = Phone(emulator, SVETA)
    before = len(sveta.messages())
    emulator.send_document(SVETA, "leads.csv", bitrix_csv(ROWS[:1]))
    preview = await sveta.next_message(before, "leads.csv")
    preview = await sveta.until(preview, "Загрузить 1?")
    assert sveta.button_texts(preview) == ["📥 Загрузить", "✖ Отмена"]
    cancel = next(data for _, data in card_buttons(preview) if data.endswith(":cancel"))
    await sveta.press_data(preview, cancel)
    await sveta.until(preview, "отменена: ничего не записано")
    assert sveta.button_texts(preview) == []
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0

    before = len(sveta.messages())
    emulator.send_document(SVETA, "old.xls.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old")
    refused = await sveta.next_message(before, "old.xls.csv")
    refused = await sveta.until(refused, "не прочитать")
    assert "он в старом формате Excel (.xls): сохраните его как .xlsx или .csv" in refused.text
    usage = await sveta.write("/import", "Загрузка лидов из файла")
    assert "Пришлите мне файл документом" in usage.text


async def test_managers_and_clients_cannot_import(
    emulator: TelegramEmulator, app: Application, staff: dict[str, Staff]
) -> None:
    """Anna is told the import is for supervisors (and so is her /import); her forged press of
    an import button is refused; a client's CSV is not read as an import."""
    anna = Phone(emulator, ANNA)
    before = len(anna.messages())
    emulator.send_document(ANNA, "mine.csv", bitrix_csv(ROWS))
    refused = await anna.next_message(before)
    assert refused.text == "Importing leads from a file is for supervisors and admins."
    usage = await anna.write("/import")
    assert usage.text == "Importing leads from a file is for supervisors and admins."
    forged = await anna.press_data(usage, "imp:abcdefgh:update")
    assert (
        forged["show_alert"] and forged["text"] == "Importing leads is for supervisors and admins."
    )
    assert emulator.calls("getFile") == []
    stranger = Phone(emulator, STRANGER)
    before = len(stranger.messages())
    emulator.send_document(STRANGER, "leads.csv", bitrix_csv(ROWS))
    await outbox_sent(app.sessions)
    assert not any(
        "Читаю" in (m.text or "") or "Reading" in (m.text or "")
        for m in stranger.messages()[before:]
    )
    assert emulator.calls("getFile") == []


async def test_a_long_import_shows_progress_and_presses_are_answered_meanwhile(
    emulator: TelegramEmulator,
    app: Application,
    staff: dict[str, Staff],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,000 rows, in six batches: the progress message is edited after each (its interval
    set to nothing here; 3 s in production); the import is held after its second batch until
    Anna has pressed Take on a new lead's card and been answered: the bot is not blocked."""
    desk(app).progress_every = 0
    held = asyncio.Event()
    release = asyncio.Event()
    real_batch: Callable[..., Awaitable[Any]] = applying._apply_batch
    batches = 0

    async def batch(*args: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches == 3:
            held.set()
            await release.wait()
        return await real_batch(*args)

    monkeypatch.setattr(applying, "_apply_batch", batch)
    rows = [
        {
            "ID": str(n),
            "Имя": f"Client {n}",
            "Статус": "Некачественный лид",
            "Дата создания": "05.11.2025 10:00:00",
            "Мобильный телефон": f"+7900{n:07d}",
        }
        for n in range(3000)
    ]
    for person in (ANNA, SVETA):
        await Phone(emulator, person).write("/start")
    sveta, anna = Phone(emulator, SVETA), Phone(emulator, ANNA)
    before = len(sveta.messages())
    emulator.send_document(SVETA, "big.csv", bitrix_csv(rows))
    preview = await sveta.next_message(before, "big.csv")
    preview = await sveta.until(preview, "Загрузить 3000?")
    await sveta.press(preview, "imp:")
    await asyncio.wait_for(held.wait(), 30)
    # the import is under way: a new lead's card reaches Anna, her Take is answered
    async with app.sessions() as session:
        await intake_leads(
            session, [LeadInput(source="web_form", phone="+79991112233")], app.clock.now()
        )
    card = await anna.next_message(0, "+7 999 111")
    answered = await anna.press(card, "lead:take")
    assert answered is not None
    await emulator.wait_for(lambda: any("lead:note" in d for _, d in card_buttons(anna.now(card))))
    assert "из 3000" in sveta.now(preview).text  # still importing
    release.set()
    await sveta.until(preview, "✅")
    await until_idle(app)
    shown = [version.text for version in sveta.now(preview).history] + [sveta.now(preview).text]
    progress = [text for text in shown if text.startswith("⏳")]
    assert [line.split(":", 1)[1].split(" строк")[0].strip() for line in progress] == [
        "0 из 3000",
        "500 из 3000",
        "1000 из 3000",
        "1500 из 3000",
        "2000 из 3000",
        "2500 из 3000",
        "3000 из 3000",
    ]
    assert "🆕 Создано лидов: 3000" in sveta.now(preview).text
    async with app.sessions() as session:
        junk = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.status == LeadStatus.JUNK)
        )
    assert junk == 3000
