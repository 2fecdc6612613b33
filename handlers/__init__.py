"""Inbound adapters: one router per audience, assembled in one place, catch-all last."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage

from bot.clock import Clock
from bot.config import AppConfig
from handlers.common import fallback_router, start_router
from handlers.manager import manager_router
from handlers.middlewares import DbSessionMiddleware, StaffMiddleware
from storage.db import SessionFactory


def build_dispatcher(
    sessions: SessionFactory, config: AppConfig, clock: Clock, storage: BaseStorage
) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage, config=config, clock=clock)
    for observer in (dispatcher.message, dispatcher.callback_query):
        observer.outer_middleware(DbSessionMiddleware(sessions))
        observer.outer_middleware(StaffMiddleware(config.locale))
    dispatcher.include_routers(start_router(), manager_router(), fallback_router())
    return dispatcher
