"""The live sessions of this process, each with its one owner, and their leases.

A session is served by one owner at a time across every process: the owner holds a lease
row in PostgreSQL (`SESSION_LEASE_S`, renewed every third of it). In this process, a
second socket on a live session takes it over (the newest connection wins: it is usually
the same user reconnecting), and the older socket is closed with 4409. A socket for a
session whose lease another live process holds is refused with 4423 and may retry; a dead
process's lease expires within `SESSION_LEASE_S`, and the next owner marks the reply that
process left pending as cut short.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

from gateway.auth import Principal
from gateway.catalog import LiveCatalog
from gateway.services import Services
from gateway.session import events as ev
from gateway.session.connection import Connection
from gateway.session.journal import is_unreachable
from gateway.session.owner import SessionOwner

log = logging.getLogger(__name__)


class SessionRefused(Exception):
    """A session this process cannot serve now: a close code and a reason (or HTTP status)."""

    def __init__(self, close_code: int, http_status: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.http_status = http_status
        self.reason = reason


CLOSE_FORBIDDEN = 4403
CLOSE_BUSY = 4423
CLOSE_TOO_MANY = 4429
CLOSE_TRY_AGAIN = 1013
CLOSE_RESTARTING = 1012
RETIRE_WAIT_S = 5.0


class SessionHub:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_s = services.settings.session_lease_s
        self._owners: dict[str, SessionOwner] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._renewer = asyncio.create_task(self._renew_forever(), name="lease-renewer")
        self.draining = False

    def __len__(self) -> int:
        return len(self._owners)

    def live(self, session_id: str) -> SessionOwner | None:
        return self._owners.get(session_id)

    async def attach(self, session_id: str, principal: Principal, connection: Connection) -> None:
        """Hand `connection` to the session's owner (started here if needed)."""
        await self._deliver(session_id, principal, ev.Attach(connection))

    async def end(self, session_id: str, principal: Principal) -> dict[str, Any]:
        """End and score the session through its owner; the report."""
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        await self._deliver(session_id, principal, ev.EndRequested(answer))
        return await answer

    async def _deliver(self, session_id: str, principal: Principal, message: ev.Message) -> None:
        if self.draining:
            raise SessionRefused(CLOSE_RESTARTING, 503, "this gateway process is shutting down; "
                                                        "reconnect")
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            owner = self._owners.get(session_id)
            if owner is not None and owner.retiring:
                try:  # its last writes (the lease's release) may wait out a database outage
                    await asyncio.wait_for(owner.done.wait(), RETIRE_WAIT_S)
                except TimeoutError:
                    raise SessionRefused(CLOSE_TRY_AGAIN, 503, "the session is still being "
                                         "closed; try again shortly") from None
                owner = None
            if owner is None:
                owner = await self._start_owner(session_id, principal)
            elif owner.record.owner != principal.user_id:
                raise SessionRefused(CLOSE_FORBIDDEN, 403, "this session belongs to another user")
            await owner.post(message)

    async def _start_owner(self, session_id: str, principal: Principal) -> SessionOwner:
        store = self.services.store
        token = uuid.uuid4().hex
        try:
            record = await store.get_session(session_id)
            if record is None:
                refusal = await self.services.limits.new_session(principal.user_id)
                if refusal is not None:
                    raise SessionRefused(CLOSE_TOO_MANY, 429, refusal.reason)
                record, _ = await store.open_session(session_id, principal.user_id)
            if record.owner != principal.user_id:
                log.warning("user %s refused session %s owned by another user",
                            principal.user_id, session_id)
                raise SessionRefused(CLOSE_FORBIDDEN, 403, "this session belongs to another user")
            leased = await store.acquire_lease(session_id, self.holder, token, self.lease_s)
            if leased is None:
                raise SessionRefused(CLOSE_BUSY, 409,
                                     "this session is live on another gateway process; try again "
                                     f"in a few seconds (a lease lasts {self.lease_s:g} s)")
            history = await store.recent_turns(session_id, self.services.settings.history_turns)
            scenario = await LiveCatalog(store).scenario(leased.scenario)
        except SessionRefused:
            raise
        except Exception as error:
            if not is_unreachable(error):
                raise
            raise SessionRefused(CLOSE_TRY_AGAIN, 503, "the database is unavailable; try again "
                                                       "shortly") from None
        owner = SessionOwner(leased, history, scenario, self.services, self, token)
        self._owners[session_id] = owner
        owner.task = asyncio.create_task(owner.run(), name=f"owner-{session_id}")
        return owner

    async def retire(self, owner: SessionOwner) -> bool:
        """Whether an idle owner may stop now (nothing connected, nothing waiting for it)."""
        lock = self._locks.setdefault(owner.session_id, asyncio.Lock())
        async with lock:
            if owner.connection is not None or not owner.inbox.empty():
                return False
            owner.retiring = True
            return True

    def retire_lost(self, owner: SessionOwner) -> None:
        owner.retiring = True

    def forget(self, owner: SessionOwner) -> None:
        if self._owners.get(owner.session_id) is owner:
            del self._owners[owner.session_id]
            lock = self._locks.get(owner.session_id)
            if lock is not None and not lock.locked():
                del self._locks[owner.session_id]

    async def close_session(self, session_id: str, close_code: int, reason: str) -> bool:
        """Stop serving a session (it is about to be deleted): False when another process
        holds it."""
        owner = self._owners.get(session_id)
        if owner is not None:
            await owner.post(ev.Shutdown(close_code, reason))
            await owner.done.wait()
            return True
        holder = await self.services.store.lease_holder(session_id)
        return holder is None or holder == self.holder

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            owners = [o for o in self._owners.values() if not o.retiring]
            if not owners:
                continue
            try:
                held = await self.services.store.renew_leases([o.token for o in owners],
                                                              self.lease_s)
            except Exception as error:
                log.warning("lease renewal failed (%s); retrying", type(error).__name__)
                continue
            for owner in owners:
                if owner.token not in held and not owner.lost:
                    owner.lost = True
                    await owner.post(ev.LeaseLost())

    async def drain(self, bound_s: float) -> None:
        """Stop taking sessions, let the replies in flight finish (for up to `bound_s`), then
        close every socket with 1012 so clients reconnect to another process."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound_s
        busy = [o for o in self._owners.values() if o.busy]
        log.info("draining: %d session(s) live, %d replying", len(self._owners), len(busy))
        while busy and loop.time() < deadline:
            await asyncio.sleep(0.05)
            busy = [o for o in self._owners.values() if o.busy]
        await self.aclose()

    async def aclose(self, close_code: int = CLOSE_RESTARTING, reason: str = "the gateway is restarting; "
                                                                    "reconnect") -> None:
        """Close every session: cut what is in flight, write it, release the leases."""
        owners = list(self._owners.values())
        for owner in owners:
            await owner.post(ev.Shutdown(close_code, reason))
        if owners:
            await asyncio.wait([asyncio.create_task(o.done.wait()) for o in owners], timeout=15)
        self._renewer.cancel()
        await asyncio.gather(self._renewer, return_exceptions=True)
