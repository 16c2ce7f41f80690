"""Rate limits kept in PostgreSQL, so they hold across every gateway process.

Per session (the contract's MAX_AI_REQUESTS_PER_MINUTE), per user across all their sessions
(MAX_AI_REQUESTS_PER_MINUTE_PER_USER) and new sessions per user per hour
(MAX_NEW_SESSIONS_PER_USER_PER_HOUR). A refused request is not counted. While the database
cannot be reached, this process's memory counts instead, so an outage neither opens the
gates nor stops the conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.config import Settings
from gateway.ratelimit import SlidingWindowLimiter
from gateway.session.journal import is_unreachable
from gateway.storage import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str


class Limits:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._memory = {
            "user": SlidingWindowLimiter(settings.max_ai_requests_per_minute_per_user, 60),
            "session": SlidingWindowLimiter(settings.max_ai_requests_per_minute, 60),
            "new": SlidingWindowLimiter(settings.max_new_sessions_per_user_per_hour, 3600),
        }

    async def ai_request(self, user: str, session_id: str) -> Refusal | None:
        s = self.settings
        limits = [(f"ai:user:{user}", s.max_ai_requests_per_minute_per_user, 60.0),
                  (f"ai:session:{session_id}", s.max_ai_requests_per_minute, 60.0)]
        refused, wait_s = await self._take(limits, ["user", "session"])
        if refused == 1:
            return Refusal("rate_limited", f"too many requests: at most "
                           f"{s.max_ai_requests_per_minute_per_user} AI requests per minute "
                           f"across your sessions; try again in {wait_s:.0f} s")
        if refused == 2:
            return Refusal("rate_limited", f"too many requests: at most "
                           f"{s.max_ai_requests_per_minute} AI requests per minute in a "
                           f"session; try again in {wait_s:.0f} s")
        return None

    async def new_session(self, user: str) -> Refusal | None:
        per_hour = self.settings.max_new_sessions_per_user_per_hour
        refused, wait_s = await self._take([(f"new_session:{user}", per_hour, 3600.0)], ["new"])
        if refused:
            return Refusal("too_many_sessions", f"at most {per_hour} new sessions per hour; "
                           f"try again in {wait_s / 60:.0f} min")
        return None

    async def _take(self, limits: list[tuple[str, int, float]],
                    memory: list[str]) -> tuple[int, float]:
        try:
            return await self.store.take(limits)
        except Exception as error:
            if not is_unreachable(error):
                raise
            log.warning("rate limits counted in memory: the database is unreachable (%s)",
                        type(error).__name__)
        for index, ((key, _, _), name) in enumerate(zip(limits, memory, strict=True), start=1):
            wait = self._memory[name].acquire(key)
            if wait is not None:
                return index, wait
        return 0, 0.0

    async def forget_user(self, user: str, session_ids: list[str]) -> None:
        await self.store.forget_limits([f"ai:user:{user}", f"new_session:{user}",
                                        *(f"ai:session:{sid}" for sid in session_ids)])
