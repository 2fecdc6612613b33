"""Outbound delivery over HTTP: signed webhook POSTs and the Bitrix24 hand-off (aiohttp)."""
