"""A call recording's button on the lead's history: its file fetched from the PBX and sent as
audio to the one who pressed (the lead's owner, supervisors, admins; re-checked on every
press), never stored and its link never shown.

The press is answered as soon as the PBX has begun to send the file (a problem before that
is the press's alert); the file's body and its upload may take longer, so a problem after
that comes as a message.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramEntityTooLarge
from aiogram.types import BufferedInputFile, CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.pbx.recordings import Problem, RecordingFetcher, RecordingProblem
from bot.common.render import labels, local_time, render, render_alert
from bot.config import AppConfig
from bot.telephony.recordings import recording_for
from handlers.errors import refuse
from handlers.keyboards.lead import RecordingButton
from storage.models import Staff

log = logging.getLogger("leadbot.recordings")

AUDIO_TITLE_LIMIT = 64  # Telegram shows a few dozen characters of a title


def recordings_router() -> Router:
    router = Router(name="recordings")

    @router.callback_query(RecordingButton.filter())
    async def send_recording(
        query: CallbackQuery,
        callback_data: RecordingButton,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        recordings: RecordingFetcher,
    ) -> None:
        access = await recording_for(session, callback_data.recording_id, staff)
        if not access.ok or access.recording is None:
            await refuse(query, access.allowed, locale)
            return
        found = access.recording
        lead_id, provider, ref, duration = found.lead_id, found.provider, found.ref, found.duration
        when = local_time(found.started_at or found.created_at, config.zone, locale)
        # nothing more is read: the transaction is not held open through the download
        await session.commit()
        chat_id = query.from_user.id
        try:
            async with recordings.opened(provider, ref) as download:
                await query.answer(render_alert("recording_sending", locale, lead_id=lead_id))
                try:
                    audio = await download.read()
                except RecordingProblem as exc:
                    await _tell(bot, chat_id, exc.problem, lead_id, locale)
                    return
        except RecordingProblem as exc:
            log.info("recording %s not sent: %s", callback_data.recording_id, exc)
            alert = render_alert("recording_problem", locale, problem=exc.problem.value)
            await query.answer(alert, show_alert=True)
            return
        title = labels(locale)["recordings"]["title"].format(lead_id=lead_id, at=when)
        try:
            await bot.send_audio(
                chat_id,
                BufferedInputFile(audio, f"lead-{lead_id}-call-{callback_data.recording_id}.mp3"),
                title=title[:AUDIO_TITLE_LIMIT],
                duration=duration or None,
            )
        except TelegramEntityTooLarge:
            await _tell(bot, chat_id, Problem.TOO_LARGE, lead_id, locale)

    return router


async def _tell(bot: Bot, chat_id: int, problem: Problem, lead_id: int | None, locale: str) -> None:
    text = render("recording_failed.html.j2", locale, problem=problem.value, lead_id=lead_id)
    await bot.send_message(chat_id, text)
