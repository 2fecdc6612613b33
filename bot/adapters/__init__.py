"""Outbound adapters: the only part of bot/ besides the assembly that may import aiogram or
aiohttp. The core never imports them (import contracts in pyproject.toml)."""
