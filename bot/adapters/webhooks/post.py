"""One signed webhook POST: the event's JSON body, its timestamp and signature, the same
Idempotency-Key on every retry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.adapters.webhooks.attempt import Attempt
from bot.common.webhooks import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

USER_AGENT = "leadbot-webhooks/1"


def event_body(payload: dict[str, Any]) -> bytes:
    """The body as sent: compact UTF-8 JSON, keys in the order they were written (the same
    bytes on every retry)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(
    secret: str, event: str, event_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        IDEMPOTENCY_HEADER: event_id,
    }


async def post_event(
    http: aiohttp.ClientSession,
    url: str,
    secret: str,
    event: str,
    event_id: str,
    payload: dict[str, Any],
    now: datetime,
    within: timedelta,
) -> Attempt:
    """2xx is delivered; anything else (another status, a refused connection, a timeout) is
    a failed attempt, tried again later: a receiver restarting answers 502 or nothing for a
    while. Redirects are not followed (the signature is for this address)."""
    body = event_body(payload)
    headers = signed_headers(secret, event, event_id, body, now)
    try:
        async with http.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=within.total_seconds()),
        ) as response:
            if 200 <= response.status < 300:
                return Attempt(True)
            return Attempt.failed(f"HTTP {response.status} {response.reason or ''}".strip())
    except TimeoutError:
        return Attempt.failed(f"no answer within {within.total_seconds():g} s")
    except aiohttp.ClientError as exc:
        return Attempt.failed(f"{type(exc).__name__}: {exc}")
