"""Prometheus histograms of the voice loop's stages, exported at /metrics."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from audio.admission import Admission

EVENTS = {
    "false_interruptions": "Replies paused for speech over them that resumed (a backchannel, "
                           "a cough)",
    "barge_ins": "Replies cut because the user spoke over them",
    "preemptive_replies": "Replies started on a speculative transcript, before the end of turn",
    "preemptive_discarded": "Preemptive replies thrown away (the user went on, or the final "
                            "transcript differed)",
}
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
        self.events = Counter("parley_turn_events", "Turn-taking events", ["event"],
                              registry=self.registry)
        for event in EVENTS:
            self.events.labels(event=event)
        self.live_sessions = Gauge("parley_live_sessions", "Sessions this process owns",
                                   registry=self.registry)

    def watch_engine(self, name: str, admission: Admission) -> None:
        """Export an engine's queue depth and refusals."""
        self.queue_depth.labels(engine=name).set_function(lambda: admission.depth)
        self.refused.labels(engine=name).set_function(lambda: admission.refused)

    def count(self, event: str) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        self.events.labels(event=event).inc()

    def observe_ms(self, figures: Mapping[str, float | None]) -> None:
        for stage, value in figures.items():
            name = stage.removesuffix("_ms")
            if value is not None and name in STAGES:
                self.stage_seconds.labels(stage=name).observe(value / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)  # type: ignore[no-any-return]
