"""Admission in front of a shared engine: arrival order, a visible depth, and a refusal
instead of a wait past the bound."""

from __future__ import annotations

import asyncio

from audio.admission import Admission, EngineBusy


async def test_jobs_wait_in_order_and_a_long_wait_is_refused() -> None:
    admission = Admission("engine", workers=1, max_wait_s=0.25, initial_service_s=0.1)
    order: list[int] = []
    depths: list[int] = []

    async def job(i: int) -> str:
        try:
            async with admission.admit():
                depths.append(admission.depth)
                order.append(i)
                await asyncio.sleep(0.1)
        except EngineBusy as busy:
            return f"refused: {busy}"
        return "done"

    results = await asyncio.gather(*(job(i) for i in range(6)))
    assert results[:3] == ["done"] * 3  # waits of 0, 0.1 and 0.2 s are within the bound
    assert all(r.startswith("refused: engine is busy") for r in results[3:])
    assert order == [0, 1, 2] and depths == [1, 2, 1]  # running + waiting
    assert admission.refused == 3 and admission.depth == 0


async def test_two_workers_take_two_jobs_at_once() -> None:
    admission = Admission("engine", workers=2, max_wait_s=10)
    running = []

    async def job() -> None:
        async with admission.admit():
            running.append(admission.running)
            await asyncio.sleep(0.05)

    await asyncio.gather(job(), job(), job(), job())
    assert max(running) == 2
