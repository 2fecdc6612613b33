"""The scores of leads as they are read. Computed on read, not stored on the lead: the counts
are a few hundred rows read once per card batch, list page or API page, and the factors are
the lead's own columns, so a score is always that of today's counts, and no close has to
rewrite every open lead (nor touch their versions, cards or the API's change feed)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.scoring.counts import read_counts
from bot.scoring.features import ScoredLead, lead_features
from bot.scoring.model import Counts, LeadScore, model_ready, model_score, rule_score
from storage.models import OPEN_STATUSES, Lead


def score_with(counts: Counts, lead: ScoredLead, config: AppConfig) -> LeadScore:
    """The model's score once it has enough closed leads; the rule score until then."""
    features = lead_features(lead, config.zone)
    if model_ready(counts, config.scoring):
        return model_score(features, counts, config.scoring)
    return rule_score(features, lead.message, config.scoring.rules)


async def scores_for(
    session: AsyncSession, leads: Iterable[Lead], config: AppConfig
) -> dict[int, LeadScore | None]:
    """Each open lead's score; None for a closed lead (its outcome is known)."""
    leads = list(leads)
    if not any(lead.status in OPEN_STATUSES for lead in leads):
        return {lead.id: None for lead in leads}
    counts = await read_counts(session)
    return {
        lead.id: score_with(counts, lead, config) if lead.status in OPEN_STATUSES else None
        for lead in leads
    }


async def score_for(session: AsyncSession, lead: Lead, config: AppConfig) -> LeadScore | None:
    return (await scores_for(session, [lead], config))[lead.id]
