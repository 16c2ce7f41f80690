"""Shared aliases for audio buffers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

PCM16 = bytes  # little-endian signed 16-bit mono samples
SampleRate = int
Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]

PIPELINE_RATE: SampleRate = 16_000  # VAD and STT run at 16 kHz
SUPPORTED_INPUT_RATES: tuple[SampleRate, ...] = (8000, 16000, 24000, 32000, 44100, 48000)
