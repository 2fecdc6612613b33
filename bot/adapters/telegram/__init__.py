"""Telegram: the notifier (outbox -> Bot API), Telegram's rate limits, the Bot API session."""
