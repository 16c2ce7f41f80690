"""Cheap checks that an utterance can be speech at all, before Whisper spends time on it.

webrtcvad calls any strong periodic signal speech: a full-scale square wave, a test tone,
a clipped or DC-shifted line. Speech is peaky (crest factor, peak/RMS, above ~3 even for
loud vowels), rarely sits at full scale for long, and has no large DC offset. These checks
are plain functions over int16 samples; thresholds are far from what the fixtures' real and
synthetic speech shows (crest 4.5-9, clipping 0 %, DC < 1 % of RMS).
"""

from __future__ import annotations

import numpy as np

from audio.types import Int16Array

MIN_CREST = 2.2             # a sine is 1.41, a square wave 1.0; speech 4+
MAX_CLIPPED = 0.02          # share of samples at full scale
MAX_DC_SHARE = 0.5          # |mean| / RMS
FULL_SCALE = 32_000


def non_speech_reason(samples: Int16Array) -> str | None:
    """Why `samples` cannot be speech, or None when they may be."""
    if samples.size == 0:
        return "the utterance is empty"
    x = samples.astype(np.float32)
    rms = float(np.sqrt(np.mean(x * x)))
    if rms < 1.0:
        return "the utterance is silent"
    if float(np.mean(np.abs(samples.astype(np.int32)) >= FULL_SCALE)) > MAX_CLIPPED:
        return "the audio is clipped at full scale"
    if abs(float(np.mean(x))) > MAX_DC_SHARE * rms:
        return "the audio has a large DC offset"
    if float(np.max(np.abs(x))) / rms < MIN_CREST:
        return "the audio is a steady tone, not speech"
    return None
