"""Charts into a chat: one picture as a photo, two to ten as one album (`sendMediaGroup`, which
takes no fewer than two). Used by /report and /digest as they answer, and by the notifier for
the queued reports, so a chart reaches a chat one way."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Bot
from aiogram.types import BufferedInputFile, InputMediaPhoto

ALBUM_MAX = 10  # Telegram's limit of items in one album


async def send_pictures(bot: Bot, chat_id: int, pictures: Sequence[tuple[str, bytes]]) -> None:
    """Send (file name, PNG) pictures to `chat_id` in one call."""
    if not pictures:
        return
    if len(pictures) == 1:
        name, png = pictures[0]
        await bot.send_photo(chat_id, BufferedInputFile(png, name))
        return
    if len(pictures) > ALBUM_MAX:
        raise ValueError(f"an album holds at most {ALBUM_MAX} pictures")
    await bot.send_media_group(
        chat_id, [InputMediaPhoto(media=BufferedInputFile(png, name)) for name, png in pictures]
    )
