"""The protocol models: parsing rules, and the generated schema in docs/protocol.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import protocol as p

DOCS = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def test_docs_hold_the_schema_of_the_current_models() -> None:
    assert p.render_schema_block() in DOCS.read_text(encoding="utf-8"), \
        "docs/protocol.md is stale: run `make docs`"


def test_every_message_type_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8").split("<!-- BEGIN GENERATED")[0]  # the prose
    for name in p.CLIENT_MESSAGES:
        assert f"| `{name}` |" in text
    server_types = [ref["$ref"].split("/")[-1] for ref in
                    p.json_schemas()["gateway_to_client"]["oneOf"]]
    schemas = p.json_schemas()["gateway_to_client"]["$defs"]
    for ref in server_types:
        name = schemas[ref]["properties"]["type"]["const"]
        assert f"`{name}`" in text or f'"{name}"' in text, name


@pytest.mark.parametrize(("frame", "code"), [
    ("", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    ('{"data": {}}', "invalid_message"),
    ('{"type": "nope"}', "unknown_type"),
    ('{"type": "request_ai_response", "data": {}}', "invalid_message"),
    ('{"type": "emotion_update", "data": {"emotion": "sad", "confidence": 2}}',
     "invalid_message"),
    ('{"type": "audio_config", "data": {"sample_rate": 11025}}', "invalid_message"),
])
def test_unusable_frames(frame: str, code: str) -> None:
    with pytest.raises(p.ProtocolError) as error:
        p.parse_client_message(frame)
    assert error.value.code == code and error.value.reason


def test_contract_examples_parse() -> None:
    message = p.parse_client_message(
        '{"type": "request_ai_response", "data": {"message": "요즘 회사에서 스트레스를 많이 받아요",'
        ' "emotion": "anxious", "timestamp": 1704902400000, "extra": 1}}')
    assert isinstance(message, p.RequestAIResponse) and message.data.emotion == "anxious"
    assert isinstance(p.parse_client_message('{"type": "vad_metrics"}'), p.VadMetrics)
    chunk = p.AIStreamChunk(data=p.ChunkData(chunk="안녕")).to_json()
    assert chunk == '{"type":"ai_stream_chunk","data":{"chunk":"안녕"}}'
    assert p.AIStreamComplete().to_json() == '{"type":"ai_stream_complete","data":{}}'
