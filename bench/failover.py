"""Failover behind a real load balancer, measured: two gateway processes behind HAProxy,
one PostgreSQL. For each round, a session gets a turn, then a slow reply; the process that
serves it is killed with SIGKILL mid-reply; the client reconnects through HAProxy and sends
its next turn. Prints JSON: seconds from the kill to the next reply's first chunk (p50/max),
refused reconnects while the dead process's lease ran out, and turns lost (accepted turns
not in the record, or left pending).

    python bench/failover.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.cluster import Cluster, continue_session, running_cluster
from tests.fakes.llm_servers import Script
from tests.support import PostgresForTests, ask, next_event, send, ws_url


async def one_round(cluster: Cluster, sid: str) -> dict[str, float | int]:
    cluster.llm.script = Script(chunks=["Fine."])
    async with connect(ws_url(cluster.lb, sid)) as ws:
        await ask(ws, "first")
        cluster.llm.script = Script(chunks=[f"part {i}. " for i in range(30)], delay_s=0.1)
        await send(ws, "request_ai_response", message="second")
        while (await next_event(ws))["type"] != "ai_stream_chunk":
            pass
        killed_at = time.monotonic()
        os.kill(await cluster.holder_pid(sid), signal.SIGKILL)
        try:
            while True:
                await next_event(ws, timeout=5)
        except (ConnectionClosed, TimeoutError):
            pass
    cluster.llm.script = Script(chunks=["Welcome back."])
    _, refusals = await continue_session(cluster.lb, sid, "third")
    elapsed = time.monotonic() - killed_at
    turns = await cluster.turns(sid)
    lost = 3 - len([t for t in turns if t["status"] in ("complete", "cut_short")])
    return {"seconds_to_continue": round(elapsed, 2), "refused_reconnects": refusals,
            "turns_lost": lost}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # as root, the embedded PostgreSQL's own user must reach it
        postgres = PostgresForTests(Path(tmp) / "pg")
        try:
            for index in range(args.rounds):  # a fresh pair each round: one of them is killed
                with running_cluster(postgres.new_database(), Path(tmp) / f"r{index}") as cluster:
                    rounds.append(asyncio.run(one_round(cluster, f"failover-{index}")))
        finally:
            postgres.stop()
    seconds = sorted(r["seconds_to_continue"] for r in rounds)
    print(json.dumps({
        "benchmark": "failover", "session_lease_s": 10, "rounds": rounds,
        "seconds_to_continue": {"p50": seconds[len(seconds) // 2], "max": seconds[-1]},
        "turns_lost": sum(int(r["turns_lost"]) for r in rounds),
        "targets": {"seconds_to_continue": 12, "turns_lost": 0}}, indent=2))


if __name__ == "__main__":
    main()
