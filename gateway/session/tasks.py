"""Tasks whose result is no longer wanted."""

from __future__ import annotations

import asyncio
from typing import Any


def abandon(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and retrieve whatever it ends with, so an exception it raised is never
    reported as lost ("Task exception was never retrieved")."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
