"""An emulated Telegram Bot API server for end-to-end tests and the sandbox."""

from bot.devtools.emulator.errors import ApiError
from bot.devtools.emulator.server import TelegramEmulator
from bot.devtools.emulator.state import BotMessage, EmulatedGroup, EmulatedUser, RecordedRequest

__all__ = [
    "ApiError",
    "BotMessage",
    "EmulatedGroup",
    "EmulatedUser",
    "RecordedRequest",
    "TelegramEmulator",
]
