"""An emulated Telegram Bot API: the test suite's Telegram, and the sandbox's."""

from bot.emulator.core import BotMessage, EmulatedUser, RecordedRequest, TelegramEmulator

__all__ = ["BotMessage", "EmulatedUser", "RecordedRequest", "TelegramEmulator"]
