"""The counseling prompt of contract section 3: a warm, CBT-informed counselor."""

from __future__ import annotations

from scenarios.emotions import GUIDANCE

LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}

BASE_INSTRUCTION = (
    "You are a professional, warm counselor informed by cognitive behavioural therapy. "
    "Answer in 2-3 short sentences. First acknowledge the feeling, then offer one concrete "
    "question or suggestion. Never judge. Your words will be spoken aloud: no lists, no "
    "markdown, no emoji."
)


def counseling_prompt(language: str, emotion: str) -> str:
    """Base instruction + language + the guidance paragraph for the current emotion."""
    lang = language if language in LANGUAGE_NAMES else "ko"
    reply_in = f"Always reply in {LANGUAGE_NAMES[lang]}."
    return "\n\n".join([BASE_INSTRUCTION, reply_in, GUIDANCE[emotion][lang]])
