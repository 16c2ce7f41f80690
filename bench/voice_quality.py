"""How intelligible each available voice is: speak fixed sentences, transcribe them back.

Each voice speaks five Korean or five English sentences (counseling and interview lines);
the offline Whisper transcribes what it said (base for Korean, tiny.en for English, the
gateway's defaults), and the benchmark prints JSON per voice: character error rate (Korean,
spaces and punctuation ignored) or word error rate (English, case and punctuation ignored),
the sentences that came back empty, and time to first audio. With TTS_BASE_URL set, the
speech server behind it is measured too, in both languages.

    python bench/voice_quality.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import soxr

from audio import models
from audio.stt import STTOptions, WhisperSTT
from audio.tts import TTS, EspeakTTS, OpenAITTS, PiperTTS

KOREAN = ["안녕하세요, 오늘 면접에 와 주셔서 감사합니다.",
          "요즘 회사에서 스트레스를 많이 받고 계시는군요.",
          "그 일이 있었을 때 어떤 생각이 가장 먼저 드셨나요?",
          "지난 분기 매출은 목표보다 십 퍼센트 낮았습니다.",
          "천천히 숨을 쉬고, 지금 느끼는 감정을 말해 보세요."]
ENGLISH = ["Thank you for coming in for the interview today.",
           "It sounds like work has been really stressful lately.",
           "What was the first thought that came to mind when it happened?",
           "Sales last quarter came in ten percent below the target.",
           "Take a slow breath and tell me what you are feeling right now."]


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def units(text: str, language: str) -> list[str]:
    """Characters without spaces or punctuation (Korean), or lower-case words (English)."""
    cleaned = re.sub(r"[^\w\s]", " ", text.lower())
    return list(cleaned.replace(" ", "")) if language == "ko" else cleaned.split()


async def measure(name: str, tts: TTS, stt: WhisperSTT, sentences: list[str],
                  language: str) -> dict[str, Any]:
    errors = reference_units = empty = 0
    first_audio_ms, heard = [], []
    for sentence in sentences:
        started = time.perf_counter()
        chunks: list[bytes] = []
        async for chunk in tts.synthesize(sentence):
            if not chunks:
                first_audio_ms.append((time.perf_counter() - started) * 1000)
            chunks.append(chunk)
        audio = np.frombuffer(b"".join(chunks), dtype="<i2")
        audio16 = soxr.resample(audio, tts.sample_rate, 16000).astype(np.int16)
        padded = np.concatenate([np.zeros(4000, np.int16), audio16, np.zeros(8000, np.int16)])
        transcript = await stt.transcribe(padded, language=language)
        heard.append(transcript.text)
        empty += not transcript.text.strip()
        reference = units(sentence, language)
        errors += edit_distance(reference, units(transcript.text, language))
        reference_units += len(reference)
    metric = "cer" if language == "ko" else "wer"
    return {"voice": name, "language": language, metric: round(errors / reference_units, 3),
            "empty_transcripts": empty, "sentences": len(sentences),
            "first_audio_ms_p50": round(statistics.median(first_audio_ms), 1), "heard": heard}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stt = WhisperSTT({"en": models.whisper_tiny_en(), "ko": models.whisper_base(Path(tmp))},
                         options=STTOptions(max_seconds=120), max_wait_s=1e9)
        await stt.preload(("en", "ko"))
        voices: list[tuple[str, TTS, list[str], str]] = [
            ("espeak-ng ko (offline)", EspeakTTS("ko"), KOREAN, "ko"),
            ("piper en_US-joe-medium (offline)", PiperTTS(models.piper_joe()), ENGLISH, "en"),
            ("espeak-ng en (offline)", EspeakTTS("en"), ENGLISH, "en"),
        ]
        if base_url := os.environ.get("TTS_BASE_URL"):
            server = OpenAITTS(api_key=os.environ.get("TTS_API_KEY"), base_url=base_url,
                               voice=os.environ.get("TTS_VOICE", "alloy"),
                               model=os.environ.get("TTS_MODEL", "gpt-4o-mini-tts"))
            voices += [(f"speech server {base_url} ko", server, KOREAN, "ko"),
                       (f"speech server {base_url} en", server, ENGLISH, "en")]
        results = [await measure(name, tts, stt, sentences, language)
                   for name, tts, sentences, language in voices]
        await stt.aclose()
    print(json.dumps({"benchmark": "voice_quality", "recogniser": "Whisper base (ko), tiny.en (en)",
                      "voices": results}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
