"""Turn detection: webrtcvad classifies 20 ms frames; a pure state machine finds the turns.

`Endpointer` is the state machine: it takes (frame, voiced) pairs and returns typed
events, with no I/O and no clock but the frames themselves, so it is tested on
synthetic sequences. `TurnDetector` puts webrtcvad in front of it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import webrtcvad

from audio.pcm import frame_levels_db
from audio.silero import SileroGate
from audio.types import PIPELINE_RATE, Int16Array


@dataclass(frozen=True)
class VADOptions:
    frame_ms: int = 20
    start_window_ms: int = 200      # speech starts when this window holds...
    start_voiced_ms: int = 120      # ...at least this much voiced audio
    silence_ms: int = 500           # end of turn (OpenAI Realtime's default)
    speculative_ms: int = 200       # silence after which a transcript is started early (0: never)
    tail_ms: int = 200              # trailing silence kept in a turn's audio
    preroll_ms: int = 300           # kept before the start so first syllables survive
    # ...and further back, up to this much more, over sound that leads into the speech (see
    # `onset`): a short first word the VAD did not hear enough of to start the turn.
    lookback_ms: int = 1000
    max_turn_ms: int = 30_000       # forced cut
    max_noise_flatness: float = 0.7  # a start window flatter than this is noise, not speech
    # Speech this long is a turn for sure, not a backchannel: a two-part "아, 네." holds
    # 540-580 ms of voiced frames, so 600 cut it now and then.
    confirm_ms: int = 800
    max_silence_ms: int = 3000      # the longest an unfinished utterance is waited for

    @property
    def frame_samples(self) -> int:
        return PIPELINE_RATE * self.frame_ms // 1000

    def frames(self, ms: int) -> int:
        return max(1, ms // self.frame_ms)


@dataclass(frozen=True)
class SpeechStarted:
    stream_ms: int  # where the speech starts in the session's audio stream


@dataclass(frozen=True)
class SpeechConfirmed:
    """The utterance has held `confirm_ms` of speech: more than a backchannel or a cough."""

    stream_ms: int


@dataclass(frozen=True)
class SpeechPaused:
    """Silence reached the speculative threshold: `audio` is what a final turn would hold."""

    stream_ms: int
    audio: Int16Array
    audio_start_ms: int  # stream position of audio[0]
    speech_end_ms: int   # end of the last voiced frame


@dataclass(frozen=True)
class SpeechResumed:
    stream_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    start_ms: int
    end_ms: int        # end of the last voiced frame
    stream_ms: int     # when the end of turn was confirmed
    audio: Int16Array  # pre-roll + speech + up to `speculative_ms` of trailing silence
    reason: Literal["silence", "max_length"]
    audio_start_ms: int  # stream position of audio[0]
    voiced: tuple[tuple[int, int], ...] = ()  # voiced stretches (start_ms, end_ms) in the audio
    speech_ms: int = 0  # how much of it was speech (0: only the cheap gate fired: room tone)


VADEvent = SpeechStarted | SpeechConfirmed | SpeechPaused | SpeechResumed | SpeechStopped


def spectral_flatness(frames: Int16Array) -> float:
    """Median spectral flatness of 2-D int16 frames: ~0.85 for white noise, ~0.3-0.45 for speech."""
    spectra = np.abs(np.fft.rfft(frames.astype(np.float32), axis=1))[:, 1:] + 1e-3
    flatness = np.exp(np.log(spectra).mean(axis=1)) / spectra.mean(axis=1)
    return float(np.median(flatness))


# A frame is the speaker's sound, for `onset`, this far over the quiet before the turn (its
# 10th percentile: the level `feedback.acoustic.islands` calls louder than the room) and no
# further under the turn's first words (their 90th percentile) than a soft word is: another
# voice the microphone picks up from across the room is ~20 dB under the speaker's own
# (AMI's headsets, each carrying the other three).
ONSET_OVER_FLOOR_DB = 9.0
ONSET_UNDER_SPEECH_DB = 12.0
ONSET_MARGIN_FRAMES = 3  # a word's first 60 ms are softer than that


def onset(frames: list[Int16Array], preroll_start: int, max_gap: int) -> int:
    """Where a turn's audio begins among `frames`, the audio before its start: the pre-roll
    (from `preroll_start`), or earlier where sound that leads into it began. A short word
    before a pause ("ask" in JFK's "ask not", AMI's "Right, I was thinking") is heard by
    webrtcvad and Silero together for only 60 ms, too little to start the turn; the turn
    then starts on the words after it, and its 300 ms pre-roll began just after that word,
    or inside it, so the word was lost from the record. Sound as loud as the speaker's
    (`ONSET_*`) that ends less than `max_gap` frames before the next sound kept (a pause the
    turn would not have ended on) belongs to the turn; a few frames before it are kept for
    the word's soft start."""
    if preroll_start <= 0:
        return 0
    levels = frame_levels_db(np.stack(frames))
    loud = levels > max(np.percentile(levels, 10) + ONSET_OVER_FLOOR_DB,
                        np.percentile(levels[preroll_start:], 90) - ONSET_UNDER_SPEECH_DB)
    after = np.flatnonzero(loud[preroll_start:])
    start = preroll_start + int(after[0]) if len(after) else len(frames)
    for i in range(preroll_start - 1, -1, -1):
        if loud[i]:
            start = i
        elif start - i >= max_gap:
            break
    return max(0, start - ONSET_MARGIN_FRAMES) if start < preroll_start else preroll_start


class Endpointer:
    """The turn state machine over (frame, voiced) pairs."""

    def __init__(self, options: VADOptions | None = None) -> None:
        self.options = options or VADOptions()
        o = self.options
        self._window_frames = o.frames(o.start_window_ms)
        self._start_frames = o.frames(o.start_voiced_ms)
        self._silence_frames = o.frames(o.silence_ms)
        self._speculative_frames = (min(o.frames(o.speculative_ms), self._silence_frames)
                                    if o.speculative_ms > 0 else None)
        # The tail never outgrows the speculative point, so that a speculative transcript
        # is of exactly the audio the final turn holds (and can be used as it is).
        self._tail_frames = min(o.frames(o.tail_ms), self._silence_frames,
                                self._speculative_frames or self._silence_frames)
        self._max_frames = o.frames(o.max_turn_ms)
        self._preroll_frames = o.frames(o.preroll_ms) + self._window_frames
        self._ring: deque[tuple[Int16Array, bool]] = deque(
            maxlen=self._preroll_frames + o.frames(o.lookback_ms))
        self._voiced_in_window = 0
        self._noise_cooldown = 0
        self._frame_index = 0
        self._utterance: list[Int16Array] = []
        self._flags: list[bool] = []
        self._speaking = False
        self._start_ms = 0
        self._audio_start_ms = 0
        self._last_voiced = 0   # index in _utterance of the last voiced frame
        self._silent_run = 0
        self._paused = False
        self._speech_frames = 0
        self._confirm_frames = o.frames(o.confirm_ms)
        self._max_silence_frames = max(self._silence_frames, o.frames(o.max_silence_ms))
        self._required_silence = self._silence_frames

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def silence_ms(self) -> int:
        """Silence so far in the current pause of the utterance."""
        return self._silent_run * self.options.frame_ms

    def require_silence(self, ms: int) -> None:
        """The silence that ends this utterance (from the semantic end of turn: less after a
        finished sentence, more after "and", "so", "um"), within [frame, max_silence_ms];
        back to `silence_ms` with the next utterance or when speech resumes."""
        self._required_silence = min(max(1, ms // self.options.frame_ms),
                                     self._max_silence_frames)
    def _ms(self, frame_index: int) -> int:
        return frame_index * self.options.frame_ms

    def push(self, frame: Int16Array, voiced: bool, speech: bool | None = None) -> list[VADEvent]:
        """Advance by one frame; return the events it causes (usually none). `voiced` (the
        cheap gate) starts an utterance; `speech` (default: `voiced`), a judgement that room
        tone does not fool, decides where it ends."""
        index = self._frame_index
        self._frame_index += 1
        if self._speaking:
            return self._push_speaking(frame, voiced if speech is None else speech)
        return self._push_idle(frame, voiced, index)

    def _push_idle(self, frame: Int16Array, voiced: bool, index: int) -> list[VADEvent]:
        ring = self._ring
        window = self._window_frames
        if len(ring) >= window and ring[-window][1]:
            self._voiced_in_window -= 1  # that frame leaves the window
        ring.append((frame, voiced))
        self._voiced_in_window += voiced
        if self._noise_cooldown:
            self._noise_cooldown -= 1
            return []
        if self._voiced_in_window < self._start_frames:
            return []
        recent = list(ring)[-window:]
        voiced_frames = np.stack([f for f, v in recent if v])
        if spectral_flatness(voiced_frames) > self.options.max_noise_flatness:
            self._noise_cooldown = window  # noise: look again a window later
            return []
        first_voiced = next(i for i, (_, v) in enumerate(recent) if v)
        self._start_ms = self._ms(index - (len(recent) - 1) + first_voiced)
        kept = list(ring)
        kept = kept[onset([f for f, _ in kept], max(0, len(kept) - self._preroll_frames),
                          self._silence_frames):]
        self._utterance = [f for f, _ in kept]
        self._flags = [v for _, v in kept]
        self._audio_start_ms = self._ms(index + 1 - len(kept))
        self._last_voiced = len(self._utterance) - 1
        self._speaking, self._silent_run, self._paused = True, 0, False
        self._speech_frames = 0
        self._required_silence = self._silence_frames
        ring.clear()
        self._voiced_in_window = 0
        return [SpeechStarted(self._start_ms)]

    def _push_speaking(self, frame: Int16Array, voiced: bool) -> list[VADEvent]:
        self._utterance.append(frame)
        self._flags.append(voiced)
        events: list[VADEvent] = []
        if voiced:
            self._last_voiced = len(self._utterance) - 1
            self._silent_run = 0
            self._required_silence = self._silence_frames
            self._speech_frames += 1
            if self._speech_frames == self._confirm_frames:
                events.append(SpeechConfirmed(self._ms(self._frame_index)))
            if self._paused:
                self._paused = False
                events.append(SpeechResumed(self._ms(self._frame_index - 1)))
        else:
            self._silent_run += 1
            if self._silent_run == self._speculative_frames:
                self._paused = True
                events.append(SpeechPaused(self._ms(self._frame_index), self._turn_audio(),
                                           self._audio_start_ms, self._speech_end_ms()))
            if self._silent_run >= self._required_silence:
                events.append(self._stop("silence"))
                return events
        if len(self._utterance) >= self._max_frames:
            events.append(self._stop("max_length"))
        return events

    def _turn_audio(self) -> Int16Array:
        end = min(len(self._utterance), self._last_voiced + 1 + self._tail_frames)
        return np.concatenate(self._utterance[:end])

    def _speech_end_ms(self) -> int:
        return self._ms(self._frame_index - len(self._utterance) + self._last_voiced + 1)

    def _voiced_spans(self) -> tuple[tuple[int, int], ...]:
        frame_ms = self.options.frame_ms
        spans: list[tuple[int, int]] = []
        for i, voiced in enumerate(self._flags):
            if not voiced:
                continue
            start = self._audio_start_ms + i * frame_ms
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], start + frame_ms)
            else:
                spans.append((start, start + frame_ms))
        return tuple(spans)

    def _stop(self, reason: Literal["silence", "max_length"]) -> SpeechStopped:
        audio = self._turn_audio() if reason == "silence" else np.concatenate(self._utterance)
        end_ms = self._speech_end_ms()
        event = SpeechStopped(self._start_ms, end_ms, self._ms(self._frame_index), audio, reason,
                              self._audio_start_ms, self._voiced_spans(),
                              self._speech_frames * self.options.frame_ms)
        self._speaking, self._utterance, self._paused = False, [], False
        return event


class TurnDetector:
    """webrtcvad and Silero VAD in front of an `Endpointer`: push 16 kHz frames, get turn
    events. A frame is speech when webrtcvad (the cheap per-frame gate) says so and Silero
    agrees: room tone, a click and a fan's hum pass webrtcvad but not Silero, so utterances
    start and end where the words do (see audio/silero.py and bench/end_of_speech.py)."""

    def __init__(self, options: VADOptions | None = None, aggressiveness: int = 2, *,
                 silero: bool = True) -> None:
        self.endpointer = Endpointer(options)
        self._vad = webrtcvad.Vad(aggressiveness)
        self._silero = SileroGate() if silero else None

    def push(self, frame: Int16Array) -> list[VADEvent]:
        voiced = self._vad.is_speech(frame.tobytes(), PIPELINE_RATE)
        if self._silero is not None:
            voiced = self._silero.push(frame, voiced) and voiced
        return self.endpointer.push(frame, voiced)
