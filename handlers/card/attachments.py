"""What a manager's photo, file, voice message or video is, as an e-mail attachment: its
Telegram file id, a file name the client sees, its MIME type and size. A photo is its largest
size (Telegram sends several). None for a sticker: it does not go by e-mail."""

from __future__ import annotations

from aiogram.types import Message

from bot.email.replies import Attachment

# the name and type a file gets when Telegram gives none (photos and voice messages never have one)
DEFAULTS = {
    "photo": ("photo.jpg", "image/jpeg"),
    "document": ("file", "application/octet-stream"),
    "voice": ("voice.ogg", "audio/ogg"),
    "audio": ("audio.mp3", "audio/mpeg"),
    "video": ("video.mp4", "video/mp4"),
    "video_note": ("video.mp4", "video/mp4"),
    "animation": ("animation.mp4", "video/mp4"),
}


def attachment_of(message: Message) -> Attachment | None:
    kind = message.content_type
    if kind not in DEFAULTS:
        return None
    name, mime = DEFAULTS[kind]
    if kind == "photo":
        if not message.photo:
            return None
        file = message.photo[-1]
        return Attachment(file.file_id, name, mime, file.file_size)
    media = getattr(message, kind, None)
    if media is None:
        return None
    return Attachment(
        media.file_id,
        getattr(media, "file_name", None) or name,
        getattr(media, "mime_type", None) or mime,
        getattr(media, "file_size", None),
    )
