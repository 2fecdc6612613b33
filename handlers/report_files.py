"""The report's files (wired once bot/reports/export.py is in)."""

from __future__ import annotations

from aiogram import Router


def report_files_router() -> Router:
    return Router(name="report_files")
