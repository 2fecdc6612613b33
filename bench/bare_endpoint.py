"""The ceiling: a bare aiohttp endpoint that reads JSON and answers 201, nothing stored.

`--typed` validates the request with the intake's own model (LeadRequest) and answers through
LeadAccepted, as POST /api/v1/leads does: the difference is what the typed models cost.
"""

from __future__ import annotations

import json
import sys

from aiohttp import web

_counter = 0


async def post(request: web.Request) -> web.Response:
    global _counter
    data = json.loads(await request.read())
    if not isinstance(data, dict):
        return web.json_response({"error": "object expected"}, status=400)
    _counter += 1
    return web.json_response({"id": _counter, "status": "new", "duplicate_of": None}, status=201)


async def post_typed(request: web.Request) -> web.Response:
    from handlers.web.body import json_answer, validated
    from handlers.web.schemas.intake import LeadAccepted, LeadRequest
    from storage.models import LeadStatus

    global _counter
    data = json.loads(await request.read())
    if not isinstance(data, dict):
        return web.json_response({"error": "object expected"}, status=400)
    typed = validated(LeadRequest, data)
    if isinstance(typed, web.Response):
        return typed
    _counter += 1
    return json_answer(LeadAccepted(id=_counter, status=LeadStatus.NEW, duplicate_of=None), 201)


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/leads", post_typed if "--typed" in sys.argv else post)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
