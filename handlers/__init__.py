"""Inbound adapters: one router per audience, assembled in one place, catch-all last."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage

from bot.common.clock import Clock
from bot.config import AppConfig
from handlers.card import dialogue_fallback_router, manager_router
from handlers.client import client_router
from handlers.client_link import client_link_router
from handlers.client_sequences import client_sequences_router
from handlers.dialogues import DialogueTimeoutMiddleware
from handlers.import_desk import ImportDesk
from handlers.imports import imports_router
from handlers.lead_channel import lead_channel_router
from handlers.middlewares import DbSessionMiddleware, StaffMiddleware
from handlers.presses import EveryPressAnswered
from handlers.reports import reports_router
from handlers.self_service import self_service_router
from handlers.spend import spend_router
from handlers.staff_admin import staff_admin_router, staff_cancel_router
from handlers.start import fallback_router, staff_help_router, start_router
from handlers.team import team_router
from storage.db import SessionFactory


def build_dispatcher(
    sessions: SessionFactory,
    config: AppConfig,
    clock: Clock,
    storage: BaseStorage,
    isolation: BaseEventIsolation | None = None,
    leads_chat_id: int | None = None,
) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation, config=config, clock=clock)
    # outermost: a press whose handling fails anywhere below is still answered
    dispatcher.callback_query.outer_middleware(EveryPressAnswered(config.locale))
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.outer_middleware(DbSessionMiddleware(sessions))
        observer.outer_middleware(StaffMiddleware(config.locale))
        observer.outer_middleware(DialogueTimeoutMiddleware(config.dialogues.abandon_after, clock))
    dispatcher["leads_chat_id"] = leads_chat_id  # where leads of a deactivated person go
    # files sent for import: previews waiting for a press, imports running in the background
    dispatcher["import_desk"] = ImportDesk(sessions, config, clock)
    dispatcher.include_routers(
        client_link_router(),  # /start <web-form link>: before the invites' /start <token>
        self_service_router(),  # a client's plain /start and self-service presses
        start_router(),
        staff_cancel_router(),
        manager_router(),
        staff_admin_router(),
        team_router(),
        reports_router(),
        spend_router(),
        lead_channel_router(),  # /channel: a client's preferred channel (follow-ups)
        imports_router(),  # before the clients': a staff member's file is never a lead
        client_sequences_router(),  # a client's answers to follow-ups, /stop
        client_router(),
        dialogue_fallback_router(),
        staff_help_router(),  # staff's unknown commands and free text: their commands
        fallback_router(),
    )
    return dispatcher
