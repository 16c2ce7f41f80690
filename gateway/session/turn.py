"""One user turn and its reply as the owner tracks it: what was sent, heard and stored."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.session.events import ReplyDone, ReplyFailed, VoiceTurn
from gateway.session.replying import Replying
from gateway.session.speaking import Speaker
from gateway.session.utterance import Utterance
from gateway.storage.store import TurnSource


@dataclass
class Turn:
    seq: int
    message: str
    emotion: str
    source: TurnSource
    replying: Replying
    client_timestamp: datetime | None = None
    voice: VoiceTurn | None = None
    speaking: Speaker | None = None
    accepted_at: float = field(default_factory=time.perf_counter)
    parts: list[str] = field(default_factory=list)
    text_complete: bool = False   # the provider finished and ai_stream_complete was sent
    stored: bool = False          # its final state is in the journal: nothing changes it now
    heard_chars: int = 0          # the reply up to the end of the last sentence spoken
    # Browser speech: where each sentence sent ends in the reply, whether all were sent, and
    # the last sentence the page has reported started and ended.
    sentence_ends: list[int] = field(default_factory=list)
    sentences_done: bool = False
    spoken_started: int = -1
    spoken_ended: int = -1
    first_token_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # Voice turns: what feedback is computed from (words, voiced stretches, hesitations),
    # being made in a worker when the turn starts.
    speech: asyncio.Task[dict[str, Any]] | None = None
    feedback: dict[str, object] | None = None
    feedback_started: bool = False
    feedback_ready: bool = False
    feedback_sent: bool = False
    preemptive: bool = False       # its reply was started before the end of turn
    preemptive_discarded: int = 0  # attempts thrown away before it
    spoken: Utterance = field(init=False)  # what the client was told of its voice

    def __post_init__(self) -> None:
        self.spoken = Utterance(f"turn-{self.seq}", self.seq)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def received(self) -> str:
        """What the user got: the text sent, or, when the reply was spoken, what was heard."""
        return self.text[: self.heard_chars] if self.speaking is not None else self.text

    @property
    def utterance_id(self) -> str:
        return self.spoken.utterance_id


@dataclass
class Preemption:
    """A reply started on a speculative transcript and held back: nothing of it is sent,
    stored, counted or heard until the end of turn confirms the same words."""

    key: int            # negative: its stages' events are told apart from turns'
    text: str
    emotion: str
    replying: Replying
    speaking: Speaker | None
    parts: list[str] = field(default_factory=list)
    outcome: ReplyDone | ReplyFailed | None = None
