"""Clients help themselves in the bot: leave a request, see it, move its call, cancel, nudge.
The Telegram side is handlers/self_service/."""
