"""The figures a restarted engine recomputes from `call_attempts`: last hour's windows and abandon rates.

Counters restarting at zero is what Prometheus expects; ratios must not, so at start the
rolling windows and the abandon-rate gauges are rebuilt from the attempts table and a
restarted engine shows the same ratios as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from compliance.abandonment import AbandonmentRule
from compliance.profiles import get_profile
from dialer.db.database import Database
from dialer.outputs.metrics import queries
from dialer.outputs.metrics.definitions import HOUR, safe_label, window_label
from dialer.outputs.metrics.windows import LastHour


@dataclass(frozen=True, slots=True)
class AbandonFigures:
    """One campaign's abandonment over its regulation window (for the gauges)."""

    campaign: str
    window: str
    rate: float
    cap: float


def abandon_rate(rule: AbandonmentRule, live: int, abandons: int, machines: int) -> float:
    """N / D as compliance.abandonment defines it (AMD false positives where the rule says)."""
    fp = machines * rule.amd_fp_rate if rule.count_amd_false_positives else 0.0
    denominator = live + fp
    return (abandons + fp) / denominator if denominator > 0 else 0.0


def _profile_rule(regulation: str) -> AbandonmentRule | None:
    try:
        return get_profile(regulation).abandonment
    except KeyError:
        return None


async def recompute(
    db: Database, at: datetime, rules: Mapping[str, AbandonmentRule] | None = None
) -> tuple[dict[str, LastHour], list[AbandonFigures]]:
    """(every campaign's last hour keyed by safe label, abandonment figures) as of `at`.

    `rules` maps campaign name -> the campaign's abandonment rule (with its overrides
    applied); a campaign not in it uses its regulation profile's rule, and one whose
    regulation is unknown gets no abandonment figures.
    """
    since = at - timedelta(seconds=HOUR)
    figures: list[AbandonFigures] = []
    async with db.engine.connect() as conn:
        campaigns = (await conn.execute(queries.CAMPAIGNS)).all()
        originates = (await conn.execute(queries.ORIGINATES_LAST_HOUR, {"since": since, "now": at})).all()
        endings = (await conn.execute(queries.ENDINGS_LAST_HOUR, {"since": since, "now": at})).all()
        for campaign_id, name, regulation in campaigns:
            rule = (rules or {}).get(name) or _profile_rule(regulation)
            if rule is None:
                continue
            row = (
                await conn.execute(
                    queries.ABANDON_COUNTS,
                    {
                        "campaign_id": campaign_id,
                        "since": at - rule.window,
                        "now": at,
                        "deadline": rule.connect_deadline_s,
                    },
                )
            ).one()
            figures.append(AbandonFigures(name, window_label(rule.window), abandon_rate(rule, *row), rule.cap))
    restored: dict[str, LastHour] = {}
    per_second: dict[tuple[str, int], list[int]] = {}
    for name, second, n in originates:
        per_second.setdefault((safe_label(name), int(second)), [0, 0, 0, 0])[0] += n
    for name, second, ended, answered, connected in endings:
        counts = per_second.setdefault((safe_label(name), int(second)), [0, 0, 0, 0])
        counts[1] += ended
        counts[2] += answered
        counts[3] += connected
    for (name, second), counts in sorted(per_second.items()):
        restored.setdefault(name, LastHour()).buckets.append([second, *counts])
    for _, name, _ in campaigns:
        restored.setdefault(safe_label(name), LastHour())
    return restored, figures
