"""Text to speech: one small interface; Piper (English), espeak-ng (Korean), OpenAI.

`synthesize(text)` yields 16-bit mono PCM chunks at `sample_rate`. Local engines run
in one worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from audio.admission import Admission, EngineBusy
from audio.models import ModelUnavailable, PiperVoice, package_dir


class TTSError(Exception):
    """Synthesis failed; the message is fit to show the user."""


class TTS(ABC):
    name: str
    sample_rate: int
    natural: bool = True  # False: a last resort people struggle to understand (espeak-ng)

    @abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Yield the speech for `text` as PCM16 chunks at `self.sample_rate`."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release engines and threads."""


class ThreadedTTS(TTS):
    """A local engine whose blocking synthesis runs in one worker thread."""

    def __init__(self, max_wait_s: float = 3.0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self.admission = Admission(f"speech synthesis ({self.name})", max_wait_s=max_wait_s)

    @abstractmethod
    def _synthesize_sync(self, text: str) -> Iterator[bytes]:
        """Blocking synthesis (runs in the worker thread)."""

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            async with self.admission.admit():
                chunks = await loop.run_in_executor(self._executor,
                                                    lambda: list(self._synthesize_sync(text)))
        except EngineBusy as busy:
            raise TTSError(str(busy)) from None
        for chunk in chunks:
            yield chunk

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._load_alone)

    def _load_alone(self) -> None:
        with ESPEAK_LOCK:  # defined below; loading may initialise espeak-ng
            self._load()

    def _load(self) -> None:
        """Load the engine (in the worker thread)."""

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# espeak-ng keeps global state, and Piper phonemises with its own copy of it, which the
# dynamic linker may bind to the same library `espeakng-loader` ships: a Korean sentence
# spoken by espeak-ng while Piper phonemises English crashed the process. Every use of
# espeak-ng, Piper's included, holds this lock.
ESPEAK_LOCK = threading.Lock()


class PiperTTS(ThreadedTTS):
    name = "piper"

    def __init__(self, voice: PiperVoice, max_wait_s: float = 3.0,
                 length_scale: float | None = None) -> None:
        import json

        self._voice_files = voice
        self.length_scale = length_scale  # > 1 speaks slower; None: the voice's own
        self.sample_rate = int(json.loads(voice.config.read_text())["audio"]["sample_rate"])
        self._voice: Any = None
        super().__init__(max_wait_s)

    def _load(self) -> None:
        if self._voice is None:
            from piper import PiperVoice as Voice

            self._voice = Voice.load(self._voice_files.model, config_path=self._voice_files.config)

    def _synthesize_sync(self, text: str) -> Iterator[bytes]:
        with ESPEAK_LOCK:
            self._load()
            from piper import SynthesisConfig

            config = SynthesisConfig(length_scale=self.length_scale)
            chunks = [chunk.audio_int16_bytes for chunk in self._voice.synthesize(text, config)]
        yield from chunks


# espeak-ng through the shared library that `espeakng-loader` ships (no apt package needed).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_PITCH = 3
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.c_void_p)


class EspeakTTS(ThreadedTTS):
    """espeak-ng: robotic but honest offline Korean."""

    name = "espeak-ng"
    natural = False  # Korean comes back from Whisper at ~75 % CER (bench/voice_quality.py)
    _library_lock = ESPEAK_LOCK  # espeak-ng keeps global state

    def __init__(self, voice: str = "ko", words_per_minute: int = 165,
                 max_wait_s: float = 3.0, pitch: int = 50) -> None:
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.pitch = pitch  # 0-100, espeak-ng's default 50
        self._lib: Any = None
        root = package_dir("espeakng_loader")
        self._library_path = root / "libespeak-ng.so"
        self._data_path = root / "espeak-ng-data"
        if not self._library_path.exists():
            raise ModelUnavailable(f"libespeak-ng not found in {root} (espeakng-loader)")
        self.sample_rate = 22050
        super().__init__(max_wait_s)

    def _load(self) -> None:
        """Under ESPEAK_LOCK: the process's one espeak-ng, initialised once."""
        if self._lib is None:
            lib, self.sample_rate = _espeak(self._library_path, self._data_path)
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise ModelUnavailable(f"espeak-ng has no voice {self.voice!r}")
            self._lib = lib

    def _synthesize_sync(self, text: str) -> Iterator[bytes]:
        with self._library_lock:
            self._load()
            # One library per process, with one voice and rate: set ours every time.
            if self._lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise TTSError(f"espeak-ng has no voice {self.voice!r}")
            self._lib.espeak_SetParameter(_RATE, self.words_per_minute, 0)
            self._lib.espeak_SetParameter(_PITCH, self.pitch, 0)
            _ESPEAK_AUDIO.clear()
            data = text.encode("utf-8")
            result = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                            None, None)
            chunks = list(_ESPEAK_AUDIO)
            _ESPEAK_AUDIO.clear()
            if result != 0:
                raise TTSError(f"espeak-ng could not speak this text (error {result})")
        yield b"".join(chunks)


# espeak-ng keeps global state: it is initialised once per process, with one callback that
# lives as long as the process (a callback of a collected object would be a dangling
# pointer), and used only under ESPEAK_LOCK.
_ESPEAK_AUDIO: list[bytes] = []
_ESPEAK_LIBRARY: tuple[Any, int] | None = None


def _on_espeak_audio(wav: Any, count: int, _events: Any) -> int:
    if wav and count > 0:
        _ESPEAK_AUDIO.append(ctypes.string_at(wav, count * 2))
    return 0


_ESPEAK_CALLBACK = _SYNTH_CALLBACK(_on_espeak_audio)


def _espeak(library_path: Any, data_path: Any) -> tuple[Any, int]:
    global _ESPEAK_LIBRARY
    if _ESPEAK_LIBRARY is None:
        lib = ctypes.CDLL(str(library_path))
        lib.espeak_Initialize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, str(data_path).encode(), 0)
        if rate <= 0:
            raise ModelUnavailable("espeak-ng failed to initialise")
        lib.espeak_SetSynthCallback(_ESPEAK_CALLBACK)
        _ESPEAK_LIBRARY = (lib, rate)
    return _ESPEAK_LIBRARY


class WavStreamReader:
    """A WAV arriving in pieces: the header's sample rate, then the PCM that follows it."""

    def __init__(self) -> None:
        self.sample_rate: int | None = None
        self._buffer = b""
        self._in_data = False

    def push(self, chunk: bytes) -> bytes:
        """The PCM in `chunk` (none until the header has been read)."""
        if self._in_data:
            return chunk
        self._buffer += chunk
        buffer = self._buffer
        if len(buffer) < 12:
            return b""
        if buffer[:4] != b"RIFF" or buffer[8:12] != b"WAVE":
            raise TTSError("the speech service did not answer with a WAV stream")
        position = 12
        while position + 8 <= len(buffer):
            chunk_id = buffer[position:position + 4]
            size = int.from_bytes(buffer[position + 4:position + 8], "little")
            if chunk_id == b"data":
                self._in_data, self._buffer = True, b""
                return buffer[position + 8:]
            if chunk_id == b"fmt ":
                if len(buffer) < position + 24:
                    return b""
                channels = int.from_bytes(buffer[position + 10:position + 12], "little")
                bits = int.from_bytes(buffer[position + 22:position + 24], "little")
                if channels != 1 or bits != 16:
                    raise TTSError(f"the speech service sent {channels} channel(s) of {bits}-bit "
                                   "audio; 16-bit mono is needed")
                self.sample_rate = int.from_bytes(buffer[position + 12:position + 16], "little")
            position += 8 + size + (size & 1)
        return b""


class OpenAITTS(TTS):
    """OpenAI's speech API or any server that speaks it, streamed as WAV so that the sample
    rate is the server's own (OpenAI's is 24 kHz; others differ)."""

    name = "openai"
    sample_rate = 24_000  # until a server has said otherwise

    def __init__(self, *, api_key: str | None, base_url: str | None, voice: str = "alloy",
                 model: str = "gpt-4o-mini-tts", timeout_s: float = 15.0) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(api_key=api_key or "unused", base_url=base_url,
                                   timeout=timeout_s, max_retries=1)
        self.voice = voice
        self.model = model

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        import openai

        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=self.model, voice=self.voice, input=text, response_format="wav",
            ) as response:
                odd = b""
                wav = WavStreamReader()
                async for piece in response.iter_bytes(4800):
                    chunk = odd + wav.push(piece)
                    if wav.sample_rate is not None:
                        self.sample_rate = wav.sample_rate
                    cut = len(chunk) - (len(chunk) & 1)
                    odd = chunk[cut:]
                    if cut:
                        yield chunk[:cut]
        except openai.APIError as error:
            raise TTSError(f"the speech service failed ({type(error).__name__})") from None

    async def aclose(self) -> None:
        await self._client.close()

