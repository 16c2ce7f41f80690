"""The clips the latency benchmarks stream, where their words really end, and how the noisy
variants are made (a recipe, so anyone can rebuild them).

True ends of speech (where the words end; checked by ear and against Whisper's word times,
as in ../shared/peer/README.md): leopard_test_en 5.46 s, jfk 10.18 s (then applause),
piper_en_all 17.43 s. These are reference points the code under test does not choose.

Variants of a clip, all 16 kHz mono int16:
- `quiet`: the clip as recorded.
- `room_tone`: real room tone (the ~0.35 s that follows the words in leopard_test_en, about
  38 dB below the voice, looped with crossfades) under the whole clip and going on for
  `after_s` after it, so nothing in the audio says "silence" but the words' end.
- `fan_15db`: the clip with brown-ish fan noise at 15 dB SNR (against the clip's voiced
  level) under it and going on after it.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
LOCAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures"

TRUE_END_S = {"leopard_test_en_16k.wav": 5.46, "jfk_16k.wav": 10.18, "piper_en_all.wav": 17.43}
VARIANTS = ("quiet", "room_tone", "fan_15db")
RATE = 16_000


def speech_stops(detector: Any, audio: np.ndarray, tail_s: float = 0.0) -> list[Any]:
    """The utterances (`SpeechStopped`) `detector`, an `audio.vad.TurnDetector`, finds in
    `audio` fed to it in 20 ms frames as a microphone would (a last partial frame dropped),
    then `tail_s` of silence: the microphone stays open after the words."""
    from audio.vad import SpeechStopped

    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320)
    tail = np.zeros((round(tail_s * 50), 320), np.int16)
    return [event for frame in np.concatenate([frames, tail]) for event in detector.push(frame)
            if isinstance(event, SpeechStopped)]


def load(name: str) -> np.ndarray:
    path = SHARED / name if (SHARED / name).exists() else LOCAL / name
    with wave.open(str(path)) as source:
        return np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16).copy()


def _loop(piece: np.ndarray, samples: int, fade: int = 800) -> np.ndarray:
    """`piece` repeated to `samples`, each seam crossfaded so the loop does not click."""
    piece = piece.astype(np.float32)
    out = piece.copy()
    ramp = np.linspace(0, 1, fade, dtype=np.float32)
    while len(out) < samples:
        seam = out[-fade:] * (1 - ramp) + piece[:fade] * ramp
        out = np.concatenate([out[:-fade], seam, piece[fade:]])
    return out[:samples]


def room_tone(samples: int) -> np.ndarray:
    """The room after the words of leopard_test_en (5.50 s to its end), looped."""
    clip = load("leopard_test_en_16k.wav")
    return _loop(clip[int(5.50 * RATE):], samples)


def fan_noise(samples: int, seed: int = 7) -> np.ndarray:
    """A fan: white noise through a one-pole low-pass (most energy below ~300 Hz) plus a
    little hiss; unit RMS."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(samples).astype(np.float32)
    brown = np.empty_like(white)
    acc = 0.0
    alpha = 0.97
    for i, x in enumerate(white):  # ~1 s per 10 s of audio: only when a clip is built
        acc = alpha * acc + (1 - alpha) * x
        brown[i] = acc
    noise = brown / (np.sqrt(np.mean(brown ** 2)) + 1e-9) + 0.15 * white
    return noise / np.sqrt(np.mean(noise ** 2))


def voiced_rms(audio: np.ndarray) -> float:
    """RMS over the loudest 20 ms frames (the top half): the voice's level, not the pauses'."""
    frames = audio[: len(audio) // 320 * 320].astype(np.float32).reshape(-1, 320)
    levels = np.sqrt(np.mean(frames ** 2, axis=1))
    return float(np.sqrt(np.mean(np.sort(levels)[len(levels) // 2:] ** 2)))


def variant(name: str, kind: str, after_s: float = 3.0) -> tuple[np.ndarray, float]:
    """The clip `name` as `kind`, cut at its true end + 0.1 s (what follows, e.g. jfk's
    applause, is not part of the answer) and followed by `after_s` of the variant's
    background; returns the audio and the true end of speech in seconds."""
    end_s = TRUE_END_S[name]
    clip = load(name)[: int((end_s + 0.1) * RATE)].astype(np.float32)
    total = len(clip) + int(after_s * RATE)
    voice = np.concatenate([clip, np.zeros(total - len(clip), np.float32)])
    if kind == "quiet":
        mixed = voice
    elif kind == "room_tone":
        mixed = voice + room_tone(total)
    elif kind == "fan_15db":
        level = voiced_rms(clip) / (10 ** (15 / 20))
        mixed = voice + fan_noise(total) * level
    else:
        raise ValueError(f"unknown variant {kind!r}; expected one of {VARIANTS}")
    return np.clip(mixed, -32768, 32767).astype(np.int16), end_s
