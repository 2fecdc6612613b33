"""Injected failures: scripted errors, an outage, and Telegram's flood limits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bot.devtools.emulator.errors import ApiError, bad_request, server_error, too_many_requests

# Calls that put something in a chat; Telegram's per-chat and global limits count these.
EDIT_METHODS = frozenset(
    {"editMessageText", "editMessageReplyMarkup", "editMessageCaption", "editMessageMedia"}
)
NOT_SENDS = frozenset({"sendChatAction", "sendGift", "sendInvoice"})


def is_flood_limited(method: str) -> bool:
    if method in EDIT_METHODS or method in ("copyMessage", "forwardMessage"):
        return True
    return method.startswith("send") and method not in NOT_SENDS


@dataclass
class Fault:
    method: str | None  # None: any method but getUpdates
    status: int
    remaining: int
    retry_after: int | None
    description: str | None
    chat_id: int | None = None  # None: any chat (or none)

    def matches(self, method: str, chat_id: object = None) -> bool:
        if self.chat_id is not None and str(chat_id) != str(self.chat_id):
            return False  # form-encoded parameters arrive as text
        if self.method is None:
            return method != "getUpdates"
        return self.method == method

    def error(self) -> ApiError:
        if self.status == 429:
            error = too_many_requests(self.retry_after or 1)
            if self.description:
                error.description = self.description
            return error
        if self.status >= 500:
            return server_error(self.status, self.description)
        if self.status == 400:
            return bad_request(self.description or "injected failure")
        return ApiError(self.status, self.description or f"Error {self.status}: injected failure")


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    down: bool = False
    down_includes_updates: bool = False

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def outage(self, method: str) -> ApiError | None:
        if self.down and (method != "getUpdates" or self.down_includes_updates):
            return server_error(502)
        return None

    def take(self, method: str, chat_id: object = None) -> ApiError | None:
        """The scripted error this call (to `chat_id`) must get, if any; consumes it."""
        for fault in self.faults:
            if fault.matches(method, chat_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault.error()
        return None


@dataclass
class Pace:
    """GCRA token bucket: `burst` calls at once, then one per 1/rate seconds."""

    rate: float
    burst: int
    _tat: float = 0.0  # theoretical arrival time of the next call

    def wait(self, now: float, tolerance: float) -> float:
        """Seconds until a call would be allowed (0: allowed now). Nothing is booked."""
        allowed_from = self._tat - (self.burst - 1) / self.rate
        return max(0.0, allowed_from - now - tolerance)

    def book(self, now: float) -> None:
        self._tat = max(self._tat, now) + 1 / self.rate


@dataclass
class FloodLimits:
    per_chat_per_second: float
    per_chat_burst: int
    per_group_per_minute: float
    global_per_second: float
    # the bot's own pacing is measured at its end; network and event-loop jitter must not
    # turn a well-paced send into a 429
    tolerance: float = 0.1
    errors: int = 0
    _chats: dict[int, Pace] = field(default_factory=dict)
    _groups: dict[int, Pace] = field(default_factory=dict)
    _global: Pace | None = None

    def check(self, chat_id: int | None, is_group: bool, now: float) -> None:
        """Book the call in every bucket it belongs to, or raise 429 and book nothing."""
        if self._global is None:
            self._global = Pace(self.global_per_second, max(1, int(self.global_per_second)))
        paces = [self._global]
        if chat_id is not None:
            paces.append(self._chat(self._chats, chat_id, self.per_chat_per_second))
            if is_group:
                paces.append(self._chat(self._groups, chat_id, self.per_group_per_minute / 60))
        wait = max(pace.wait(now, self.tolerance) for pace in paces)
        if wait > 0:
            self.errors += 1
            raise too_many_requests(max(1, math.ceil(wait)))
        for pace in paces:
            pace.book(now)

    def _chat(self, table: dict[int, Pace], chat_id: int, rate: float) -> Pace:
        pace = table.get(chat_id)
        if pace is None:
            pace = table[chat_id] = Pace(rate, self.per_chat_burst)
        return pace
