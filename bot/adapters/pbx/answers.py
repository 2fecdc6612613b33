"""What a PBX API request came to, as plain data: the callers never see aiohttp's errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

MESSAGE_LIMIT = 120  # characters of the PBX's own words kept (they go into a 200-char alert)
BODY_LIMIT = 64 * 1024  # a JSON answer is small; more is not read


@dataclass(frozen=True)
class PbxAnswer:
    """`ok`: the PBX did it. Else `reachable` tells a refusal (the PBX answered no, in
    `error`: its message) from no usable answer (network, time-out, 5xx, not JSON)."""

    ok: bool
    reachable: bool = True
    status: int | None = None  # the HTTP status, None when nothing came back
    data: dict[str, Any] = field(default_factory=dict)  # the JSON answer
    error: str | None = None


def short(text: object) -> str:
    return " ".join(str(text).split())[:MESSAGE_LIMIT]


def unreachable(error: str, status: int | None = None) -> PbxAnswer:
    return PbxAnswer(ok=False, reachable=False, status=status, error=error)


async def json_answer(
    send: Callable[[aiohttp.ClientSession], Awaitable[aiohttp.ClientResponse]],
    within: float,
) -> tuple[int, dict[str, Any]] | PbxAnswer:
    """Send one request (a fresh session: a press is rare) and read its JSON object; a
    PbxAnswer when there is nothing usable to read."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=within)) as http:
            response = await send(http)
            async with response:
                body = await response.content.read(BODY_LIMIT)
                status = response.status
    except TimeoutError:
        return unreachable(f"no answer within {within:g} s")
    except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
        return unreachable(short(f"{type(exc).__name__}: {exc}"))
    if status >= 500:
        return unreachable(f"HTTP {status}", status)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if status >= 400:
            return PbxAnswer(ok=False, status=status, error=f"HTTP {status}")
        return unreachable(f"an answer that is not JSON (HTTP {status})", status)
    return status, data
