"""The ceiling: a bare aiohttp endpoint that reads JSON and answers 201, nothing stored.

`--typed` validates the request with the intake's own model (LeadRequest) and answers through
LeadAccepted, as POST /api/v1/leads does: the difference is what the typed models cost.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]

_counter = 0


async def post(request: web.Request) -> web.Response:
    global _counter
    data = json.loads(await request.read())
    if not isinstance(data, dict):
        return web.json_response({"error": "object expected"}, status=400)
    _counter += 1
    return web.json_response({"id": _counter, "status": "new", "duplicate_of": None}, status=201)


def typed_post() -> Handler:
    """`post` with the intake's typed models (imported here: the plain endpoint loads none)."""
    from handlers.web.body import json_answer, validated
    from handlers.web.schemas.intake import LeadAccepted, LeadRequest
    from storage.models import LeadStatus

    async def post_typed(request: web.Request) -> web.Response:
        global _counter
        data = json.loads(await request.read())
        if not isinstance(data, dict):
            return web.json_response({"error": "object expected"}, status=400)
        typed = validated(LeadRequest, data)
        if isinstance(typed, web.Response):
            return typed
        _counter += 1
        answer = LeadAccepted(id=_counter, status=LeadStatus.NEW, duplicate_of=None)
        return json_answer(answer, 201)

    return post_typed


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/leads", typed_post() if "--typed" in sys.argv else post)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
