"""Raw client bytes -> 16 kHz int16 frames of a fixed size, whatever the byte counts."""

from __future__ import annotations

import numpy as np
import soxr

from audio.types import PIPELINE_RATE, SUPPORTED_INPUT_RATES, Int16Array, SampleRate


class UnsupportedRate(ValueError):
    """A sample rate the gateway does not resample from."""


class Resampler:
    """Streaming resampler to 16 kHz (soxr keeps filter state across chunks)."""

    def __init__(self, input_rate: SampleRate) -> None:
        if input_rate not in SUPPORTED_INPUT_RATES:
            rates = ", ".join(str(r) for r in SUPPORTED_INPUT_RATES)
            raise UnsupportedRate(f"unsupported sample rate {input_rate}; supported: {rates}")
        self.input_rate = input_rate
        self._stream = (None if input_rate == PIPELINE_RATE else
                        soxr.ResampleStream(input_rate, PIPELINE_RATE, 1, dtype="int16",
                                            quality="HQ"))

    def process(self, samples: Int16Array, last: bool = False) -> Int16Array:
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)  # type: ignore[no-any-return]


class FrameAssembler:
    """Reassembles arbitrary byte chunks (odd counts included) into fixed-size int16 frames."""

    def __init__(self, input_rate: SampleRate = PIPELINE_RATE, frame_samples: int = 320) -> None:
        self.resampler = Resampler(input_rate)
        self.frame_samples = frame_samples
        self._odd_byte = b""
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, data: bytes) -> list[Int16Array]:
        """Add client bytes; return the complete 16 kHz frames now available."""
        data = self._odd_byte + data
        usable = len(data) - (len(data) & 1)
        self._odd_byte = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<i2")
        if samples.size:
            resampled = self.resampler.process(samples)
            self._pending = np.concatenate((self._pending, resampled)) if self._pending.size \
                else resampled
        count = self._pending.size // self.frame_samples
        if count == 0:
            return []
        cut = count * self.frame_samples
        frames = list(self._pending[:cut].reshape(count, self.frame_samples))
        self._pending = self._pending[cut:]
        return frames


def to_float32(samples: Int16Array) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1), as Whisper wants it."""
    return samples.astype(np.float32) / 32768.0


def frame_levels_db(frames: np.ndarray) -> np.ndarray:
    """The level of each row of int16 `frames` (n, samples), in dB over one unit of power:
    ~0 for digital silence, ~90 at full scale."""
    x = frames.astype(np.float64)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1.0)  # type: ignore[no-any-return]
