"""Practice adding up: one user's scored sessions over time, per scenario, and what changed
since the last session of the same scenario.

Everything here is read from stored reports (a report is a function of what was stored),
so progress is the same however often it is asked for. Counseling is not a performance and
has no score card: it never appears here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SCORES = ("fillers", "pace", "pauses", "clarity", "politeness")


@dataclass(frozen=True)
class ScoredSession:
    """One ended session's figures, as its report gives them."""

    session_id: str
    scenario: str
    title: str
    language: str
    created_at: datetime
    overall: int | None
    scores: dict[str, int | None]
    fillers_per_100: float | None
    pace: float | None          # articulation rate, in `pace_unit`
    pace_unit: str | None
    turns: int

    @classmethod
    def from_report(cls, session_id: str, created_at: datetime,
                    report: dict[str, Any]) -> ScoredSession:
        pace = report.get("pace") or {}
        fillers = report.get("fillers") or {}
        return cls(session_id, str(report.get("scenario", "")),
                   str(report.get("scenario_title") or report.get("scenario", "")),
                   str(report.get("language", "")), created_at, report.get("overall"),
                   {name: (report.get("scores") or {}).get(name) for name in SCORES},
                   fillers.get("per_100") if report.get("turns") else None,
                   pace.get("articulation_rate"), pace.get("unit"), int(report.get("turns") or 0))

    def as_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "created_at": self.created_at.isoformat(),
                "language": self.language, "turns": self.turns, "overall": self.overall,
                "scores": self.scores, "fillers_per_100": self.fillers_per_100,
                "pace": self.pace, "pace_unit": self.pace_unit}


def scored(report: dict[str, Any]) -> bool:
    """Whether a report belongs in progress: a practice session (not counseling) in which
    the user said something."""
    return report.get("kind") != "counseling" and bool(report.get("turns"))


def progress(sessions: list[ScoredSession]) -> list[dict[str, Any]]:
    """Per scenario (most recently practised first), its sessions oldest first."""
    by_scenario: dict[str, list[ScoredSession]] = {}
    for session in sorted(sessions, key=lambda s: s.created_at):
        by_scenario.setdefault(session.scenario, []).append(session)
    ordered = sorted(by_scenario.items(), key=lambda kv: kv[1][-1].created_at, reverse=True)
    return [{"scenario": scenario, "title": runs[-1].title, "sessions": [s.as_json() for s in runs]}
            for scenario, runs in ordered]


def _delta(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return round(now - before, 2)


def since_last_time(previous: ScoredSession, current: ScoredSession) -> dict[str, Any]:
    """What changed since the last session of the same scenario (positive: went up)."""
    return {
        "session_id": previous.session_id, "created_at": previous.created_at.isoformat(),
        "overall": _delta(current.overall, previous.overall),
        "scores": {name: _delta(current.scores.get(name), previous.scores.get(name))
                   for name in SCORES},
        "fillers_per_100": _delta(current.fillers_per_100, previous.fillers_per_100),
        "pace": _delta(current.pace, previous.pace) if current.pace_unit == previous.pace_unit
        else None,
        "pace_unit": current.pace_unit,
    }
