"""How far to trust the score, for /report: the model's ranking accuracy (AUC) on the most
recent closed leads, which the last recount kept out of its counts; or that the rule score
still stands in, and how many closed leads the model waits for."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.scoring.counts import last_recount, read_counts
from bot.scoring.model import model_ready


@dataclass(frozen=True)
class ScoreQuality:
    by_rules: bool  # the rule score stands in: fewer than `min_closed` closed leads
    closed: int  # closed leads known
    min_closed: int
    held_out: int  # the recent closed leads the AUC was measured on
    auc: float | None  # None: not measured (no recount yet, or one outcome only)

    @property
    def auc_percent(self) -> int | None:
        return round(self.auc * 100) if self.auc is not None else None

    def as_values(self) -> dict[str, object]:
        """What the report's template reads, as JSON can keep it."""
        return {**asdict(self), "auc_percent": self.auc_percent}


async def score_quality(session: AsyncSession, config: AppConfig) -> ScoreQuality:
    counts = await read_counts(session)
    recount = await last_recount(session)
    return ScoreQuality(
        by_rules=not model_ready(counts, config.scoring),
        closed=counts.closed,
        min_closed=config.scoring.min_closed,
        held_out=recount.held_out if recount is not None else 0,
        auc=recount.auc if recount is not None else None,
    )
