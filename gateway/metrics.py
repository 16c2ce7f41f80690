"""Prometheus histograms of the voice loop's stages, exported at /metrics."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from audio.admission import Admission

STAGES = ("speech_end_to_transcript", "endpoint_to_transcript", "transcript_to_first_token",
          "first_token_to_first_audio", "voice_to_voice", "stt", "request_to_first_chunk")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class Metrics:
    """One registry per app (so several apps can live in one process, as in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "parley_stage_seconds", "Latency of each stage of a turn", ["stage"],
            buckets=_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("parley_engine_queue_depth",
                                 "Jobs running or waiting in a shared speech engine", ["engine"],
                                 registry=self.registry)
        self.refused = Gauge("parley_engine_refused", "Jobs refused because the wait was too long",
                             ["engine"], registry=self.registry)
        self.live_sessions = Gauge("parley_live_sessions", "Sessions this process owns",
                                   registry=self.registry)

    def watch_engine(self, name: str, admission: Admission) -> None:
        """Export an engine's queue depth and refusals."""
        self.queue_depth.labels(engine=name).set_function(lambda: admission.depth)
        self.refused.labels(engine=name).set_function(lambda: admission.refused)

    def observe_ms(self, figures: Mapping[str, float | None]) -> None:
        for stage, value in figures.items():
            name = stage.removesuffix("_ms")
            if value is not None and name in STAGES:
                self.stage_seconds.labels(stage=name).observe(value / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)  # type: ignore[no-any-return]
