"""A Telegram file's bytes, for a letter's attachment: getFile, then the download from the
Bot API's file URL (aiogram's `Bot.download`), through the bot's one session, so getFile is
paced with every other call. Tried once: the letter itself is retried."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.adapters.mail.sender import FileGone
from bot.adapters.telegram.gate import one_attempt


class TelegramFiles:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def __call__(self, file_id: str) -> bytes:
        try:
            with one_attempt():
                found = await self._bot.download(file_id)
        except TelegramBadRequest as exc:  # "file not found", "file is too big": for good
            raise FileGone(f"Telegram no longer gives the file ({exc.message})") from exc
        if found is None:
            raise FileGone("Telegram gave no file")
        return found.read()
