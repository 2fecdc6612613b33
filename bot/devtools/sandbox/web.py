"""The sandbox page's HTTP side: the page, its script, a live event stream and the actions.

Served next to the emulated Bot API on 127.0.0.1 only. Actions take JSON (so a page on another
site cannot post to them with a plain form) and answer JSON: `{"error": "..."}` when refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.devtools.sandbox.errors import SandboxError
from bot.devtools.sandbox.page import page_html

if TYPE_CHECKING:
    from bot.devtools.sandbox.runner import Sandbox

SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox")
STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE_SECONDS = 15  # a comment line this often finds pages that went away
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_sandbox_routes(app: web.Application, sandbox: Sandbox) -> None:
    app[SANDBOX_KEY] = sandbox
    app.router.add_get("/", _refusals(_page))
    app.router.add_static("/sandbox/static", STATIC_DIR)
    app.router.add_get("/sandbox/state", _refusals(_state))
    app.router.add_get("/sandbox/events", _refusals(_events))
    app.router.add_post("/sandbox/chats/{chat_id}/messages", _refusals(_write))
    app.router.add_post("/sandbox/chats/{chat_id}/contact", _refusals(_share_contact))
    app.router.add_post("/sandbox/chats/{chat_id}/photo", _refusals(_send_photo))
    app.router.add_post("/sandbox/chats/{chat_id}/buttons", _refusals(_press))
    app.router.add_post("/sandbox/web-form", _refusals(_web_form))
    app.router.add_post("/sandbox/clock", _refusals(_jump))


def _refusals(handler: Handler) -> Handler:
    async def answering(request: web.Request) -> web.StreamResponse:
        try:
            _check_host(request)
            return await handler(request)
        except SandboxError as error:
            return web.json_response({"error": str(error)}, status=error.status)

    return answering


def _check_host(request: web.Request) -> None:
    """Only pages addressed to this machine by name or address: a site that rebinds its own
    domain to 127.0.0.1 (DNS rebinding) gets no chats and no actions."""
    port = request.app[SANDBOX_KEY].emulator.base_url.rsplit(":", 1)[1]
    if request.host not in (f"127.0.0.1:{port}", f"localhost:{port}"):
        raise SandboxError(403, f"open the sandbox as http://127.0.0.1:{port}/")


async def _page(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    return web.Response(
        text=page_html(sandbox.options.language),
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX_KEY].snapshot())


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a snapshot first, then every change (the browser reconnects by
    itself, and gets a fresh snapshot)."""
    sandbox = request.app[SANDBOX_KEY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    queue = sandbox.streams.open()
    try:
        await _send(response, {"type": "snapshot", **sandbox.snapshot()})
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if event is None:
                break
            await _send(response, event)
    except ConnectionResetError:
        pass  # the page was closed
    finally:
        sandbox.streams.close(queue)
    return response


async def _send(response: web.StreamResponse, event: dict[str, Any]) -> None:
    # json.dumps escapes newlines inside strings, so one event is one `data:` line
    await response.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise SandboxError(415, "send JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise SandboxError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SandboxError(400, "the body must be a JSON object")
    return body


def _chat_id(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError:
        raise SandboxError(404, "no such chat") from None


def _integer(body: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SandboxError(400, f"{key} must be a whole number")
    return value


async def _write(request: web.Request) -> web.Response:
    body = await _json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise SandboxError(400, "text must be a string")
    reply_to = _integer(body, "reply_to", required=False)
    message = request.app[SANDBOX_KEY].write(_chat_id(request), text, reply_to)
    return web.json_response({"message_id": message["message_id"]})


async def _send_photo(request: web.Request) -> web.Response:
    body = await _json_body(request)
    caption = body.get("caption") or None
    if caption is not None and not isinstance(caption, str):
        raise SandboxError(400, "caption must be a string")
    reply_to = _integer(body, "reply_to", required=False)
    message = request.app[SANDBOX_KEY].send_photo(_chat_id(request), caption, reply_to)
    return web.json_response({"message_id": message["message_id"]})


async def _share_contact(request: web.Request) -> web.Response:
    message = request.app[SANDBOX_KEY].share_contact(_chat_id(request))
    return web.json_response({"message_id": message["message_id"]})


async def _press(request: web.Request) -> web.Response:
    body = await _json_body(request)
    message_id = _integer(body, "message_id", required=True)
    data = body.get("data")
    if not isinstance(data, str) or not data:
        raise SandboxError(400, "data must be the button's callback data")
    assert message_id is not None
    query_id = request.app[SANDBOX_KEY].press(_chat_id(request), message_id, data)
    return web.json_response({"callback_query_id": query_id})


async def _web_form(request: web.Request) -> web.Response:
    """Passes the intake's answer on as it is: its status, its JSON."""
    fields = await _json_body(request)
    status, answer = await request.app[SANDBOX_KEY].submit_web_form(fields)
    return web.json_response(answer, status=status)


async def _jump(request: web.Request) -> web.Response:
    body = await _json_body(request)
    step = body.get("jump")
    sandbox = request.app[SANDBOX_KEY]
    sandbox.jump(step if isinstance(step, str) else "")
    return web.json_response(sandbox.clock_view())
