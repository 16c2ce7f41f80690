"""Where speech ends, told by the Silero VAD model that faster-whisper ships.

webrtcvad is a cheap per-frame gate, but it has no notion of level: quiet room tone 38 dB
below the voice is "speech" to it, so a turn's end is found late (or never, while a fan
runs). Silero VAD v6 (`faster_whisper/assets/silero_vad_v6.onnx`, MIT, run with
onnxruntime, both already installed) tells a voice from room tone and noise. It runs
streaming: one 32 ms window (512 samples at 16 kHz, with 64 samples of context) at a time,
its recurrent state carried along, ~0.2 ms of CPU a window.

`SileroGate` turns the probabilities into a speech/not-speech state with Silero's own
hysteresis (speech from `threshold`, silence below `threshold - 0.15`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from audio.models import ModelUnavailable, package_dir
from audio.types import Int16Array

WINDOW = 512   # samples at 16 kHz: 32 ms
CONTEXT = 64


def model_path() -> Path:
    path = package_dir("faster_whisper") / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise ModelUnavailable(f"the Silero VAD model is missing: {path} (faster-whisper)")
    return path


class _Model:
    """One onnxruntime session for the process (the state lives in each stream)."""

    _lock = threading.Lock()
    _session: Any = None

    @classmethod
    def session(cls) -> Any:
        with cls._lock:
            if cls._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.inter_op_num_threads = 1
                options.intra_op_num_threads = 1
                options.enable_cpu_mem_arena = False
                options.log_severity_level = 4
                cls._session = onnxruntime.InferenceSession(
                    str(model_path()), providers=["CPUExecutionProvider"], sess_options=options)
            return cls._session


class SileroStream:
    """Feed 16 kHz PCM16 in any lengths; get one speech probability per 32 ms window."""

    def __init__(self) -> None:
        self._session = _Model.session()
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)

    def push(self, samples: Int16Array, *, skip: bool = False) -> list[float]:
        """`skip`: the cheap gate heard nothing in these samples; windows that end in them
        are not run (probability 0), so silence costs next to nothing."""
        audio = np.concatenate([self._pending, samples.astype(np.float32) / 32768.0])
        probabilities = []
        whole = len(audio) // WINDOW * WINDOW
        for start in range(0, whole, WINDOW):
            window = audio[start:start + WINDOW]
            if skip:
                probabilities.append(0.0)
            else:
                batch = np.concatenate([self._context, window])[None, :]
                out, self._h, self._c = self._session.run(
                    None, {"input": batch, "h": self._h, "c": self._c})
                probabilities.append(float(np.asarray(out).reshape(-1)[0]))
            self._context = window[-CONTEXT:]
        self._pending = audio[whole:]
        return probabilities


class SileroGate:
    """Is the speaker speaking now? Silero's probability with hysteresis, per frame."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.release = max(0.05, threshold - 0.15)
        self._stream = SileroStream()
        self.speaking = False
        self.probability = 0.0
        self._heard_before = False

    def push(self, frame: Int16Array, gate: bool = True) -> bool:
        """`gate`: whether the cheap per-frame gate (webrtcvad) heard anything in this frame or
        the one before; without it the model is not run (~0.15 ms saved a window)."""
        heard, self._heard_before = gate or self._heard_before, gate
        for probability in self._stream.push(frame, skip=not heard):
            self.probability = probability
            if probability >= self.threshold:
                self.speaking = True
            elif probability < self.release:
                self.speaking = False
        return self.speaking
