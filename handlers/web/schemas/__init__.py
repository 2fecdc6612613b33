"""The typed requests and answers of every HTTP route (pydantic v2), one module per route
group. The routes validate with these models and /api/v1/openapi.json is generated from them
(handlers/web/openapi.py), so the document cannot drift from what the routes accept."""
