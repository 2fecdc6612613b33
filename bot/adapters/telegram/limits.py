"""Telegram's sending limits as reservations: each send books the earliest moment it may go.

The configured limits are a ceiling, not a promise: Telegram may allow a bot less (its own
flood control, a group's slow mode). A 429 says so. The pace it hit (the chat's, or the
bot-wide one when many chats were being served or a second chat was refused) drops to 70 %
or to what Telegram accepted in the last second if that is less (not below 30 %), and climbs
back by a share of the ceiling for every second without another 429 (additive increase,
multiplicative decrease). Simulated against Telegram's bucket, that keeps 429s to a few per
hundred sends and the total time within a few per cent of the real limit (bench/storm.py
measures it on the application).
"""

from __future__ import annotations

from collections import deque
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

    def hold_until(self, moment: float) -> None:
        """Nothing goes before `moment` (Telegram's retry_after), and no burst right after."""
        self._next_free = max(self._next_free, moment + (self.burst - 1) / self.rate)


# Aim a little under each limit: requests reach Telegram with jitter, and two sends spaced
# exactly 1.000 s apart here may arrive 0.99 s apart there.
MARGIN = 0.9
SLOW_DOWN = 0.7  # a pace that was answered 429 goes on at this share of itself or less
KEEP_AT_LEAST = 0.3  # ... but not less than this share
# ... and regains this share of its ceiling per second without a 429: the bot-wide pace
# slowly (it is what a storm is about), a chat's quickly (a chat is rarely allowed less than
# its 1/s, and a chat slowed by mistake must not stay slow)
SPEED_UP_BOT, SPEED_UP_CHAT = 0.01, 0.1
FLOOR = 1 / 60  # never slower than one message a minute


@dataclass
class _Adaptive:
    """A pace that learns the limit Telegram really applies, below its configured ceiling."""

    pace: Pace
    ceiling: float
    speed_up: float
    held_until: float = 0.0  # Telegram's last retry_after for this pace ends then
    _calm_since: float = 0.0

    def throttled(self, now: float, until: float, accepted: int) -> None:
        """`accepted`: what Telegram took in the last second, which is about what it allows
        (the first 429 of a storm would otherwise take many halvings to reach it); never less
        than a third of the pace, so one stray 429 in a quiet second does not stall it."""
        if now >= self.held_until:  # the sends in flight with it say the same: slow down once
            rate = self.pace.rate
            rate = max(rate * KEEP_AT_LEAST, min(rate * SLOW_DOWN, accepted * MARGIN))
            self.pace.rate = max(FLOOR, rate)
            self.pace.burst = 1
        self.held_until = max(self.held_until, until)
        self.pace.hold_until(until)
        self._calm_since = self.held_until

    def recover(self, now: float) -> None:
        calm = now - self._calm_since
        if calm >= 1.0 and self.pace.rate < self.ceiling:
            self.pace.rate = min(self.ceiling, self.pace.rate + self.speed_up * self.ceiling * calm)
            self._calm_since = now


@dataclass
class SendLimits:
    global_per_second: float
    per_chat_per_second: float
    per_chat_burst: int
    per_group_per_minute: float
    _global: _Adaptive = field(init=False)
    _chats: dict[int, _Adaptive] = field(default_factory=dict, init=False)
    # sends Telegram accepted in the last second: the bot's, and each chat's last one
    _recent: deque[float] = field(default_factory=deque, init=False)
    _chat_recent: dict[int, deque[float]] = field(default_factory=dict, init=False)
    # the chats answered 429 in the last second, and when
    _chat_429s: deque[tuple[float, int]] = field(default_factory=deque, init=False)
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
        rate = self.global_per_second * MARGIN
        # a small burst: sends booked together leave together, and a burst larger than
        # Telegram allows would come back as that many 429s at once
        self._global = _Adaptive(Pace(rate, burst=min(3, max(1, int(rate)))), rate, SPEED_UP_BOT)

    def _chat(self, chat_id: int) -> _Adaptive:
        chat = self._chats.get(chat_id)
        if chat is None:
            # negative ids are groups and channels: Telegram allows them 20 messages a minute
            rate = self.per_group_per_minute / 60 if chat_id < 0 else self.per_chat_per_second
            rate *= MARGIN
            pace = Pace(rate, burst=self.per_chat_burst)
            chat = self._chats[chat_id] = _Adaptive(pace, rate, SPEED_UP_CHAT)
        return chat

    def book_chat(self, chat_id: int, now: float) -> float:
        """First step of a send: the moment this chat's own limit allows it."""
        return self._chat(chat_id).pace.book(max(now, self.paused_until))

    def book_global(self, now: float) -> float:
        """Second step, taken when the chat's moment has come: the bot-wide limit.

        Booked only then, so a chat that must wait never holds up sends to other chats.
        """
        return self._global.pace.book(max(now, self.paused_until))

    def accepted(self, chat_id: int | None, now: float) -> None:
        """Telegram took a send: paces slowed by a 429 may speed up again."""
        self._recent.append(now)
        while self._recent and self._recent[0] < now - 1.0:
            self._recent.popleft()
        self._global.recover(now)
        if chat_id is not None:
            self._chat(chat_id).recover(now)
            mine = self._chat_recent.setdefault(chat_id, deque(maxlen=2))
            mine.append(now)

    def throttled(self, chat_id: int | None, now: float, retry_after: float) -> None:
        """Telegram answered 429. Whose limit was it? This chat's, when the chat took two
        messages in the last second (faster than a chat's 1/s) while the bot was not busy and
        no other chat was answered 429 in that second: only it waits and slows down.
        Otherwise the bot's: everyone waits and goes slower. (Judged by the configured pace
        alone, a bot that Telegram allows less than configured looks "not busy", and each
        chat in turn was slowed while the bot went on too fast.)"""
        until = now + retry_after
        mine = self._chat_recent.get(chat_id, ()) if chat_id is not None else ()
        chat_bursting = len(mine) == 2 and mine[0] >= now - 1.0
        busy = sum(1 for moment in self._recent if moment >= now - 1.0)
        if chat_id is not None and chat_bursting and busy < self._global.pace.rate / 2:
            if not self._other_chat_throttled(chat_id, now):
                self._chat(chat_id).throttled(now, until, len(mine))
                return
        self._global.throttled(now, until, busy)
        self.pause(until)

    def _other_chat_throttled(self, chat_id: int, now: float) -> bool:
        while self._chat_429s and self._chat_429s[0][0] < now - 1.0:
            self._chat_429s.popleft()
        others = any(chat != chat_id for _, chat in self._chat_429s)
        self._chat_429s.append((now, chat_id))
        return others

    def resume_at(self, chat_id: int) -> float:
        """When a send to this chat may go after a 429 that came while it waited for its slot
        (booked before the 429, it must not go at that slot)."""
        chat = self._chats.get(chat_id)
        return max(self.paused_until, chat.held_until if chat is not None else 0.0)

    def pause(self, until: float) -> None:
        """Nothing is sent until `until` (Telegram's retry_after for the whole bot)."""
        self.paused_until = max(self.paused_until, until)
