"""A speech server: the offline engines behind OpenAI's audio API, on their own machine.

`parley speech-server` serves `POST /v1/audio/transcriptions` (faster-whisper; multipart
upload, `verbose_json` with word times, `language` honoured) and `POST /v1/audio/speech`
(Piper for English, espeak-ng for Korean; `response_format` `pcm` is 24 kHz 16-bit mono as
OpenAI's API defines it, `wav` carries the engine's own rate). Gateways point
`STT_BASE_URL` / `TTS_BASE_URL` at it, so the heavy models run on machines built for them
and a gateway process stays light. Each engine sits behind its admission queue: a request
that would wait too long is answered 503 at once.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import soxr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from audio.stt import STT, STTError
from audio.tts import TTS, TTSError
from audio.types import PIPELINE_RATE

OPENAI_PCM_RATE = 24_000
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


def _read_wav(data: bytes) -> np.ndarray:
    """16 kHz mono int16 samples from a WAV upload (resampled and mixed down if needed)."""
    with wave.open(io.BytesIO(data)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV is supported")
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if rate != PIPELINE_RATE:
        samples = soxr.resample(samples, rate, PIPELINE_RATE).astype(np.int16)
    return samples


def create_speech_app(stt: STT | None, voices: dict[str, TTS]) -> Starlette:
    """The speech server over these engines (`voices`: by language, "en"/"ko")."""

    async def transcriptions(request: Request) -> Response:
        if stt is None:
            return JSONResponse({"error": {"message": "no recogniser on this server"}}, 404)
        async with request.form(max_part_size=MAX_UPLOAD_BYTES) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return JSONResponse({"error": {"message": "'file' is required"}}, 400)
            data = await upload.read()
            language = str(form.get("language") or "") or None
        try:
            samples = _read_wav(data)
        except (ValueError, EOFError, wave.Error) as error:
            return JSONResponse({"error": {"message": f"unreadable audio: {error}"}}, 400)
        try:
            result = await stt.transcribe(samples, language=language)
        except STTError as error:
            status = 503 if error.code == "stt_busy" else 500
            return JSONResponse({"error": {"message": str(error), "code": error.code}}, status)
        return JSONResponse({
            "task": "transcribe", "language": result.language or language or "",
            "duration": len(samples) / PIPELINE_RATE, "text": result.text,
            "words": [{"word": w.text, "start": w.start_ms / 1000, "end": w.end_ms / 1000}
                      for w in result.words]})

    async def speech(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        text = str(body.get("input") or "").strip()
        voice = str(body.get("voice") or "en")
        engine = voices.get(voice) or voices.get("en" if text.isascii() else "ko")
        if not text or engine is None:
            return JSONResponse({"error": {"message": "'input' is required and a voice must "
                                                      f"exist (have: {sorted(voices)})"}}, 400)
        wav = body.get("response_format") == "wav"
        out_rate = engine.sample_rate if wav else OPENAI_PCM_RATE
        stream = soxr.ResampleStream(engine.sample_rate, out_rate, 1, dtype="int16")
        chunks = engine.synthesize(text)
        try:
            first = await anext(aiter(chunks))
        except StopAsyncIteration:
            first = b""
        except TTSError as error:
            return JSONResponse({"error": {"message": str(error)}}, 503)

        def convert(chunk: bytes, last: bool = False) -> bytes:
            if out_rate == engine.sample_rate:
                return chunk
            samples = np.frombuffer(chunk, dtype="<i2")
            return stream.resample_chunk(samples, last=last).astype("<i2").tobytes()

        async def body_bytes() -> AsyncIterator[bytes]:
            if wav:
                yield _wav_header(out_rate)
            yield convert(first)
            async for chunk in chunks:
                yield convert(chunk)
            yield convert(b"", last=True)

        return StreamingResponse(body_bytes(), media_type="audio/wav" if wav else "audio/pcm")

    async def health(_: Request) -> Response:
        return JSONResponse({"stt": getattr(stt, "name", None),
                             "voices": {k: v.name for k, v in voices.items()}})

    return Starlette(routes=[
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/health", health),
    ])


def _wav_header(rate: int) -> bytes:
    """A streaming WAV header (sizes unknown: the largest values, as streaming servers do)."""
    header = io.BytesIO()
    header.write(b"RIFF" + (0xFFFFFFFF).to_bytes(4, "little") + b"WAVEfmt ")
    header.write((16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little"))
    header.write(rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little"))
    header.write((2).to_bytes(2, "little") + (16).to_bytes(2, "little"))
    header.write(b"data" + (0xFFFFFFFF).to_bytes(4, "little"))
    return header.getvalue()
