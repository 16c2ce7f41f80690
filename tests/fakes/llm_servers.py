"""A local HTTP server that speaks the OpenAI and Gemini streaming wire formats.

The real `openai` and `google-genai` SDKs talk to it, so the providers' own code runs.
Each test scripts the behaviour (chunks, delay, failure mid-stream, HTTP error, hang)
and reads back the requests the gateway sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Script:
    """What the next replies look like."""

    chunks: list[str] = field(default_factory=lambda: ["Hello ", "from ", "the model."])
    delay_s: float = 0.0            # before each chunk
    status: int = 200               # an HTTP error status instead of a stream
    break_after: int | None = None  # drop the connection after this many chunks
    hang_after: int | None = None   # stop sending (but keep the connection) after this many
    finish: bool = True             # end with the provider's own end signal (finish_reason,
                                    # [DONE], Gemini's finishReason); False: a clean early end
    garbage_after: int | None = None  # send an SSE event that is not JSON after this many


class BrokenStream(Exception):
    """Raised inside the response body so the server aborts the connection mid-stream."""


class FakeLLMServer:
    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            # google-genai picks the API version (v1beta in older releases, v1 in newer).
            Route("/v1beta/models/{model_action:path}", self._gemini, methods=["POST"]),
            Route("/v1/models/{model_action:path}", self._gemini, methods=["POST"]),
            Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
            Route("/v1/audio/speech", self._speech, methods=["POST"]),
        ])
        self.transcript = "I would like to practise my interview answers"

    async def _chunks(self) -> AsyncIterator[tuple[int, str]]:
        script = self.script
        for index, chunk in enumerate(script.chunks):
            if script.break_after is not None and index >= script.break_after:
                raise BrokenStream("scripted break")
            if script.hang_after is not None and index >= script.hang_after:
                await asyncio.sleep(3600)
            if script.garbage_after is not None and index >= script.garbage_after:
                yield -1, "{this is not json"
                return
            if script.delay_s:
                await asyncio.sleep(script.delay_s)
            yield index, chunk

    async def _openai(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"api": "openai", "body": body})
        if self.script.status != 200:
            return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}},
                                status_code=self.script.status)

        async def events() -> AsyncIterator[bytes]:
            async for index, chunk in self._chunks():
                if index < 0:
                    yield f"data: {chunk}\n\n".encode()
                    return
                delta: dict[str, Any] = {"content": chunk}
                if index == 0:
                    delta["role"] = "assistant"
                payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                           "created": 0, "model": body.get("model", "fake"),
                           "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                yield f"data: {json.dumps(payload)}\n\n".encode()
            if not self.script.finish:
                return
            done = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _gemini(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"api": "gemini", "path": request.url.path, "body": body,
                              "query": dict(request.query_params)})
        if self.script.status != 200:
            return JSONResponse({"error": {"code": self.script.status,
                                           "message": "scripted failure", "status": "INTERNAL"}},
                                status_code=self.script.status)

        async def events() -> AsyncIterator[bytes]:
            last = len(self.script.chunks) - 1
            async for index, chunk in self._chunks():
                if index < 0:
                    yield f"data: {chunk}\r\n\r\n".encode()
                    return
                candidate: dict[str, Any] = {"content": {"parts": [{"text": chunk}],
                                                        "role": "model"}, "index": 0}
                if index == last and self.script.finish:
                    candidate["finishReason"] = "STOP"
                payload = {"candidates": [candidate]}
                yield f"data: {json.dumps(payload)}\r\n\r\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _transcribe(self, request: Request) -> Response:
        """OpenAI's transcription endpoint (multipart upload, verbose_json with words)."""
        async with request.form() as form:
            upload = form["file"]
            audio = await upload.read()  # type: ignore[union-attr]
            self.requests.append({"api": "transcriptions", "bytes": len(audio),
                                  "fields": {k: v for k, v in form.items() if k != "file"}})
        words = [{"word": w, "start": 0.3 * i, "end": 0.3 * i + 0.25}
                 for i, w in enumerate(self.transcript.split())]
        return JSONResponse({"task": "transcribe", "language": "english", "duration": 3.0,
                             "text": self.transcript, "words": words})

    speech_rate = 22050  # not OpenAI's 24 kHz: the gateway must read the rate it is given

    async def _speech(self, request: Request) -> Response:
        """OpenAI's speech endpoint: raw 24 kHz 16-bit PCM for `pcm`, a WAV at this server's
        own rate for `wav`."""
        body = await request.json()
        self.requests.append({"api": "speech", "body": body})
        wav = body.get("response_format") == "wav"
        rate = self.speech_rate if wav else 24000
        samples = int(rate * 0.06 * len(body["input"].split()))  # ~60 ms a word
        tone = (bytes(range(256)) * (samples * 2 // 256 + 1))[: samples * 2]
        if not wav:
            return Response(tone, media_type="audio/pcm")
        import io
        import wave

        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes(tone)
        return Response(out.getvalue(), media_type="audio/wav")

    def last_messages(self) -> list[dict[str, str]]:
        """The conversation of the most recent OpenAI request (system prompt included)."""
        return self.requests[-1]["body"]["messages"]  # type: ignore[no-any-return]


class CloseDelimitedSSE:
    """An OpenAI-wire server whose streamed body has no length and no chunked framing: it
    ends when the server closes the connection (HTTP/1.0 style), here before the reply's end
    signal. uvicorn always frames its bodies, so this is a raw asyncio server."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"connection: close\r\n\r\n")
        for chunk in self.chunks:
            payload = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                       "choices": [{"index": 0, "delta": {"content": chunk},
                                    "finish_reason": None}]}
            writer.write(f"data: {json.dumps(payload)}\n\n".encode())
            await writer.drain()
        writer.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def main() -> None:
    """Serve the fake on a port in its own process (for benchmarks): `--port N --chunks a b c`."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", nargs="*")
    args = parser.parse_args()
    server = FakeLLMServer()
    if args.chunks:
        server.script.chunks = args.chunks
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
