"""What the client is told about one spoken utterance: a reply, or the opening line.

Both are voiced by a `Speaker` and heard the same way (`tts_begin`, binary audio,
`tts_sentence`, `tts_pause`/`tts_resume`, `tts_end`); this keeps the count of what went out
and makes those events, so that the reply and the opening line cannot drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from gateway import protocol as p
from gateway.session.events import SpeechAudio, SpeechSentence


@dataclass
class Utterance:
    utterance_id: str
    seq: int                             # the turn it answers; 0: the opening line
    first_audio_at: float | None = None  # the first audio slice or sentence went out
    audio_ms: float = 0.0                # server audio sent so far
    sample_rate: int = 0

    @property
    def begun(self) -> bool:
        return self.first_audio_at is not None

    def audio(self, event: SpeechAudio) -> p.TTSBegin | None:
        """Count a slice of audio on its way out; the `tts_begin` to send before it, if it
        is the first."""
        begin = None
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()
            self.sample_rate = event.sample_rate
            begin = p.TTSBegin(data=p.TTSBeginData(
                utterance_id=self.utterance_id, turn=self.seq, sample_rate=event.sample_rate))
        self.audio_ms += len(event.data) / 2 / event.sample_rate * 1000
        return begin

    def sentence(self, event: SpeechSentence, language: str) -> p.TTSSentence:
        """A sentence for the page to speak (browser speech)."""
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()
        return p.TTSSentence(data=p.TTSSentenceData(
            utterance_id=self.utterance_id, turn=self.seq, sentence=event.index,
            text=event.text, language=language))

    def pause(self) -> p.TTSPause:
        return p.TTSPause(data=p.TTSPauseData(utterance_id=self.utterance_id, turn=self.seq))

    def resume(self) -> p.TTSResume:
        return p.TTSResume(data=p.TTSResumeData(utterance_id=self.utterance_id, turn=self.seq))

    def end(self, *, interrupted: bool, mode: Literal["server", "browser"]) -> p.TTSEnd:
        return p.TTSEnd(data=p.TTSEndData(utterance_id=self.utterance_id,
                                          interrupted=interrupted,
                                          audio_ms=round(self.audio_ms), mode=mode))
