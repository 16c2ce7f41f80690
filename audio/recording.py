"""A user's answer, kept (with their consent) so they can hear themselves in the report:
16 kHz PCM as Ogg Opus, about 26 kbit/s (a 10 s answer is ~33 kB)."""

from __future__ import annotations

import io

import numpy as np

from audio.types import Int16Array

CODEC = "opus"
MEDIA_TYPE = "audio/ogg"
RATE = 16_000
OPUS_LEVEL = 0.9  # libsndfile's compression level: 0.9 is about 26 kbit/s for speech


def encode(pcm: Int16Array, rate: int = RATE) -> bytes:
    """Ogg Opus of 16-bit mono PCM (CPU work: call it in a worker)."""
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, np.asarray(pcm, dtype=np.int16), rate, format="OGG", subtype="OPUS",
                    compression_level=OPUS_LEVEL)
    return out.getvalue()


def decode(data: bytes) -> tuple[Int16Array, int]:
    """PCM and its rate from what `encode` made."""
    import soundfile

    pcm, rate = soundfile.read(io.BytesIO(data), dtype="int16")
    return pcm, int(rate)
