"""aiohttp routes: the HTTP API (intake, telephony, site builders' hooks)."""
