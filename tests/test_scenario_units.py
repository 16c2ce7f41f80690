"""scenarios/ as a library: the catalog, layered prompts, beats, rapport tags, safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scenarios import rapport
from scenarios.beats import BeatPosition, next_beat
from scenarios.emotions import EMOTIONS
from scenarios.loader import builtin_catalog
from scenarios.prompts import PromptContext, compose_prompt
from scenarios.safety import assess_risk, safety_reply

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
CATALOG = builtin_catalog()


def test_the_catalog_has_the_five_scenarios_in_both_languages() -> None:
    assert set(CATALOG.scenarios) == {"counseling", "job_interview", "manager_report",
                                      "relationship_talk", "customer_call"}
    interview = CATALOG.scenarios["job_interview"]
    kinds = [beat.kind for beat in interview.beats]
    assert len(kinds) >= 8 and {"opening", "motivation", "strengths_weaknesses", "conflict",
                                "failure", "situational", "salary_availability",
                                "questions_for_us"} <= set(kinds)
    assert all(beat.follow_up for beat in interview.beats)
    assert CATALOG.scenarios["counseling"].feedback_weights.penalize_pauses is False
    assert "hae" in CATALOG.scenarios["relationship_talk"].expected_register.ko
    assert set(CATALOG.scenarios["job_interview"].expected_register.ko) == {"hasipsio", "haeyo"}


@pytest.mark.parametrize("scenario_id", sorted(CATALOG.scenarios))
@pytest.mark.parametrize("language", ["ko", "en"])
def test_prompt_snapshot(scenario_id: str, language: str) -> None:
    scenario = CATALOG.scenarios[scenario_id]
    prompt = compose_prompt(PromptContext(
        scenario=scenario, persona=CATALOG.personas[scenario.persona], language=language,
        emotion="anxious", rapport=0.5 if scenario.rapport else None, beat=scenario.beats[1]))
    assert prompt.index("# Guidelines") < prompt.index("# Persona") < prompt.index("# Situation")
    assert ("Always reply in Korean." if language == "ko" else "Always reply in English.") in prompt
    assert ("[[rapport:" in prompt) == scenario.rapport
    path = SNAPSHOTS / f"prompt_{scenario_id}_{language}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(prompt, encoding="utf-8")
    assert prompt == path.read_text(encoding="utf-8"), f"{path.name} changed (UPDATE_SNAPSHOTS=1)"


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_counseling_prompt_carries_the_emotion_guidance(emotion: str) -> None:
    scenario = CATALOG.scenarios["counseling"]
    prompt = compose_prompt(PromptContext(scenario=scenario, persona=CATALOG.personas["counselor"],
                                          language="en", emotion=emotion))
    assert "CBT" in prompt or "cognitive behavioural" in prompt
    from scenarios.emotions import GUIDANCE

    assert GUIDANCE[emotion]["en"] in prompt


def test_informal_speech_opens_up_at_the_scenario_stage() -> None:
    scenario = CATALOG.scenarios["relationship_talk"]
    persona = CATALOG.personas[scenario.persona]
    low = compose_prompt(PromptContext(scenario, persona, "ko", "neutral", rapport=0.3))
    high = compose_prompt(PromptContext(scenario, persona, "ko", "neutral", rapport=0.5))
    assert "반말" not in low and "반말" in high


def test_beats_follow_up_once_on_a_vague_answer_then_move_on() -> None:
    scenario = CATALOG.scenarios["job_interview"]
    step = next_beat(scenario, BeatPosition(), "음 잘 모르겠어요")
    assert step.follow_up and step.beat == scenario.beats[0]
    step = next_beat(scenario, step.position, "그냥요")  # still vague: no second follow-up
    assert not step.follow_up and step.beat == scenario.beats[1]
    step = next_beat(scenario, step.position,
                     "I want to build tools people use every day, and your team ships them.")
    assert not step.follow_up and step.beat == scenario.beats[2]
    last = BeatPosition(len(scenario.beats) - 1, True)
    assert next_beat(scenario, last, "No questions, thank you very much for your time").beat is None


@pytest.mark.parametrize("split", range(1, 16))
def test_rapport_tags_are_stripped_wherever_the_stream_splits_them(split: int) -> None:
    text = "That is a clear answer. [[rapport:+0.2]]"
    tag_start = text.index("[[")
    stripper = rapport.TagStripper()
    cut = tag_start + split
    shown = stripper.push(text[:cut]) + stripper.push(text[cut:]) + stripper.flush()
    assert shown == "That is a clear answer. " and stripper.delta == 0.2


def test_brackets_that_are_not_tags_are_kept() -> None:
    stripper = rapport.TagStripper()
    shown = stripper.push("See [the note] and [[other]] ") + stripper.push("[") + stripper.flush()
    assert shown == "See [the note] and [[other]] [" and stripper.delta is None


def test_rapport_arithmetic() -> None:
    assert rapport.apply(0.5, 0.9) == 0.8  # a judgement is clamped to +0.3
    assert rapport.apply(0.05, -0.1) == 0.0
    assert [rapport.stage(v) for v in (0.0, 0.2, 0.5, 0.79, 1.0)] == [1, 2, 3, 4, 5]


RISK_KO = [
    "요즘 그냥 죽고 싶어요", "자살하고 싶다는 생각이 자꾸 들어요", "살기 싫어", "더 이상 살고 싶지 않아요",
    "살 이유가 없는 것 같아요", "목숨을 끊을까 생각했어요", "극단적인 선택을 하고 싶어요",
    "어제 또 자해했어요", "손목을 그었어요", "그냥 사라지고 싶어", "유서를 써 놨어요",
    "옥상에서 뛰어내리고 싶어요", "다 끝내 버리고 싶어요", "수면제를 모아 두었어요",
]
RISK_EN = [
    "I want to kill myself", "I've been thinking about suicide", "I feel suicidal lately",
    "I just want to die", "I'm going to end my life", "I want to take my own life",
    "I don't want to live anymore", "Everyone would be better off dead without me, me included",
    "There's no reason to live", "I keep hurting myself", "I've been cutting myself again",
    "I might jump off a bridge", "I wrote a suicide note",
]
ORDINARY = [
    "배고파 죽겠어요", "더워 죽겠네", "웃겨 죽겠다 진짜", "어제 경기에서 자살골을 넣었어요",
    "이 집 국밥 맛이 죽여요", "게임에서 캐릭터가 죽었어", "일을 빨리 끝내고 싶어요",
    "안경이 사라진 줄 알았어요", "살 빼고 싶어요", "휴가 가서 푹 쉬고 싶어요",
    "I could kill for a coffee", "This deadline is killing me", "My phone died again",
    "I'm dying to see that movie", "We watched Suicide Squad last night",
    "I cut my hair myself", "I want to end the meeting early", "I hurt my knee running",
    "The plant died while I was away", "I don't want to live in Seoul anymore, it's too busy",
]


@pytest.mark.parametrize("sentence", RISK_KO + RISK_EN)
def test_risk_phrasings_are_caught(sentence: str) -> None:
    assert assess_risk(sentence) is not None


@pytest.mark.parametrize("sentence", ORDINARY)
def test_ordinary_sentences_sharing_words_are_not(sentence: str) -> None:
    assert assess_risk(sentence) is None


def test_safety_reply_names_the_crisis_lines() -> None:
    assert "109" in safety_reply("ko") and "988" in safety_reply("en")
    assert "109" in safety_reply("en")
