"""Fetching a recording's file from the PBX's API (bot/adapters/pbx/recordings.py) against the
stand-in (bot/devtools/pbx_recordings.py), without Telegram: the signatures as the vendors
document them, and every failure one of four plain answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.adapters.pbx.mango import mango_form
from bot.adapters.pbx.recordings import PbxAccess, Problem, RecordingFetcher, RecordingProblem
from bot.adapters.pbx.zadarma import zadarma_authorization
from bot.devtools.pbx_recordings import PbxRecordings

KEY, SECRET = "zd-key-for-tests", "zd-secret-for-tests"
MANGO_KEY = "8v7lygho7jb61aa7e7gwlqz6horeuqe2"
MANGO_SALT = "sux7mpqilsripo5gbjok484gxb10h6ua"
AUDIO = b"ID3" + bytes(range(256)) * 40  # 10 kB


def test_zadarma_signs_path_sorted_query_and_its_md5() -> None:
    """Worked by hand: query "call_id=1704445200.123&format=json&lifetime=180", its md5
    689a4360...cd5a5, hmac-sha1 hex 583ca461...5f33f of path + query + md5, then base64."""
    params = {"lifetime": "180", "format": "json", "call_id": "1704445200.123"}
    header = zadarma_authorization(KEY, "/v1/pbx/record/request/", params, SECRET)
    assert header == f"{KEY}:NTgzY2E0NjFiNjg2NDM0YTliYmM1OWVlMzNmZDcyYjQyOTE1ZjMzZg=="


def test_mango_signs_key_json_salt() -> None:
    form = mango_form(MANGO_KEY, MANGO_SALT, {"recording_id": "MToxMDEy", "action": "download"})
    assert form == {
        "vpbx_api_key": MANGO_KEY,
        "sign": "a6adc3897f1348b747a69edd436cef5567fea1fc0bf8f9cda72618108dbdb6af",
        "json": '{"recording_id":"MToxMDEy","action":"download"}',
    }


@pytest.fixture
async def stand() -> AsyncIterator[tuple[PbxRecordings, str]]:
    pbx = PbxRecordings(KEY, SECRET, MANGO_KEY, MANGO_SALT, zadarma={"r1": AUDIO})
    pbx.mango["m1"] = AUDIO
    runner = web.AppRunner(pbx.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield pbx, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _fetcher(base: str, **access: str | None) -> RecordingFetcher:
    keys: dict[str, str | None] = {
        "zadarma_key": KEY,
        "zadarma_secret": SECRET,
        "mango_key": MANGO_KEY,
        "mango_salt": MANGO_SALT,
    }
    return RecordingFetcher(
        PbxAccess(**(keys | access), zadarma_base=base, mango_base=base),  # type: ignore[arg-type]
        answer_within=2.0,
        limit=len(AUDIO),
    )


async def _problem(fetcher: RecordingFetcher, provider: str, ref: str) -> Problem:
    try:
        async with fetcher.opened(provider, ref) as download:
            await download.read()
    except RecordingProblem as exc:
        return exc.problem
    finally:
        await fetcher.close()
    raise AssertionError("the file came")


async def test_both_vendors_files_come_whole(stand: tuple[PbxRecordings, str]) -> None:
    _, base = stand
    fetcher = _fetcher(base)
    try:
        for provider, ref in (("zadarma", "r1"), ("mango", "m1")):
            async with fetcher.opened(provider, ref) as download:
                assert await download.read() == AUDIO
    finally:
        await fetcher.close()


async def test_every_failure_is_one_plain_answer(stand: tuple[PbxRecordings, str]) -> None:
    pbx, base = stand
    assert (
        await _problem(_fetcher(base, zadarma_key=None), "zadarma", "r1") is Problem.NOT_CONFIGURED
    )
    assert await _problem(_fetcher(base, mango_salt=None), "mango", "m1") is Problem.NOT_CONFIGURED
    # Mango refusing our key (3105) or our sign (3102): a setting as well
    assert (
        await _problem(_fetcher(base, mango_key="other"), "mango", "m1") is Problem.NOT_CONFIGURED
    )
    assert (
        await _problem(_fetcher(base, mango_salt="guess"), "mango", "m1") is Problem.NOT_CONFIGURED
    )
    # a key the PBX does not know: a setting to fix, not a missing recording
    assert (
        await _problem(_fetcher(base, zadarma_secret="guess"), "zadarma", "r1")
        is Problem.NOT_CONFIGURED
    )
    assert await _problem(_fetcher(base), "zadarma", "nope") is Problem.GONE
    assert await _problem(_fetcher(base), "mango", "nope") is Problem.GONE
    pbx.expire_links = True
    assert await _problem(_fetcher(base), "zadarma", "r1") is Problem.GONE
    pbx.expire_links, pbx.down = False, True
    assert await _problem(_fetcher(base), "mango", "m1") is Problem.PBX_DOWN
    pbx.down = False
    # one byte over the limit, with no size declared: counted while it is read
    pbx.zadarma["r2"] = AUDIO + b"!"
    assert await _problem(_fetcher(base), "zadarma", "r2") is Problem.TOO_LARGE  # declared
    pbx.chunked = True
    assert await _problem(_fetcher(base), "zadarma", "r2") is Problem.TOO_LARGE  # counted
    assert await _problem(_fetcher("http://127.0.0.1:9"), "zadarma", "r1") is Problem.PBX_DOWN


async def test_a_pbx_that_never_answers_is_down_within_the_short_timeout() -> None:
    released = asyncio.Event()

    async def silent(_: web.Request) -> web.Response:
        await released.wait()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", silent)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fetcher = _fetcher(f"http://127.0.0.1:{runner.addresses[0][1]}")
    fetcher.answer_within = 0.2
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        assert await _problem(fetcher, "mango", "m1") is Problem.PBX_DOWN
        assert loop.time() - started < 2
    finally:
        released.set()
        await runner.cleanup()
