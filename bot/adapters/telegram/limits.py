"""Telegram's sending limits as reservations: each send books the earliest moment it may go."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import TelegramLimits


@dataclass
class Pace:
    """A token bucket kept as its next free moment (GCRA): `burst` sends at once, then `rate`/s.

    Booking is synchronous, so concurrent tasks on one event loop never book the same slot.
    """

    rate: float
    burst: int = 1
    _next_free: float = field(default=0.0, init=False)

    def book(self, now: float) -> float:
        """Reserve a slot; return the moment (>= now) the send may happen."""
        interval = 1.0 / self.rate
        at = max(now, self._next_free - (self.burst - 1) * interval)
        self._next_free = max(self._next_free, now) + interval
        return at


# Aim a little under each limit: requests reach Telegram with jitter, and two sends spaced
# exactly 1.000 s apart here may arrive 0.99 s apart there.
MARGIN = 0.9


@dataclass
class SendLimits:
    global_per_second: float
    per_chat_per_second: float
    per_chat_burst: int
    per_group_per_minute: float
    _global: Pace = field(init=False)
    _chats: dict[int, Pace] = field(default_factory=dict, init=False)
    paused_until: float = field(default=0.0, init=False)

    @classmethod
    def of(cls, config: TelegramLimits) -> SendLimits:
        return cls(
            config.global_per_second,
            config.per_chat_per_second,
            config.per_chat_burst,
            config.per_group_per_minute,
        )

    def __post_init__(self) -> None:
        self._global = Pace(
            self.global_per_second * MARGIN, burst=max(1, int(self.global_per_second * MARGIN))
        )

    def _chat(self, chat_id: int) -> Pace:
        pace = self._chats.get(chat_id)
        if pace is None:
            # negative ids are groups and channels: Telegram allows them 20 messages a minute
            rate = self.per_group_per_minute / 60 if chat_id < 0 else self.per_chat_per_second
            pace = self._chats[chat_id] = Pace(rate * MARGIN, burst=self.per_chat_burst)
        return pace

    def book_chat(self, chat_id: int, now: float) -> float:
        """First step of a send: the moment this chat's own limit allows it."""
        return self._chat(chat_id).book(max(now, self.paused_until))

    def book_global(self, now: float) -> float:
        """Second step, taken when the chat's moment has come: the bot-wide limit.

        Booked only then, so a chat that must wait never holds up sends to other chats.
        """
        return self._global.book(max(now, self.paused_until))

    def pause(self, until: float) -> None:
        """After a 429 nothing is sent until Telegram's retry_after has passed."""
        self.paused_until = max(self.paused_until, until)
