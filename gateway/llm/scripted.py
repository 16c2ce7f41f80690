"""An offline counterpart with no network, so the gateway works without any key.

It is not a language model: it reflects the user's words back with an emotion-aware
acknowledgement and one open question, in the session's language.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from gateway.llm.base import LLM, LLMRequest

_ACKNOWLEDGE = {
    "ko": {
        "anxious": "많이 불안하셨겠어요.", "sad": "마음이 많이 무거우셨겠어요.",
        "angry": "화가 나실 만한 상황이었네요.", "happy": "정말 기쁜 일이네요.",
        "fearful": "두려운 마음이 드셨겠어요.", "surprised": "많이 놀라셨겠어요.",
        "disgusted": "불쾌하셨을 것 같아요.", "neutral": "말씀해 주셔서 고마워요.",
    },
    "en": {
        "anxious": "That sounds really unsettling.", "sad": "That sounds heavy to carry.",
        "angry": "It makes sense that you feel angry.", "happy": "That is wonderful to hear.",
        "fearful": "That sounds frightening.", "surprised": "That must have caught you off guard.",
        "disgusted": "That sounds really unpleasant.", "neutral": "Thank you for telling me.",
    },
}
_QUESTIONS = {
    "ko": ["그때 어떤 생각이 가장 먼저 드셨나요?", "지금 가장 마음에 걸리는 부분은 무엇인가요?",
           "오늘 스스로에게 해 줄 수 있는 작은 일 하나는 무엇일까요?"],
    "en": ["What went through your mind first when that happened?",
           "What part of it weighs on you most right now?",
           "What is one small thing you could do for yourself today?"],
}


def _topic(message: str, language: str) -> str:
    """A short echo of the user's own words (their first clause, at most 40 characters)."""
    clause = re.split(r"[.?!。\n,]", message.strip(), maxsplit=1)[0].strip()
    return clause[:40].rstrip()


def scripted_counseling_reply(request: LLMRequest) -> str:
    lang = request.language if request.language in _ACKNOWLEDGE else "ko"
    user_message = request.messages[-1].content if request.messages else ""
    turn_index = sum(1 for m in request.messages if m.role == "user") - 1
    topic = _topic(user_message, lang)
    reflection = (f"'{topic}'라고 하셨네요." if lang == "ko" else f'You said "{topic}".') if topic else ""
    question = _QUESTIONS[lang][turn_index % len(_QUESTIONS[lang])]
    return " ".join(p for p in (_ACKNOWLEDGE[lang][request.emotion], reflection, question) if p)


class ScriptedLLM(LLM):
    provider = "scripted"
    model = "scripted"
    is_language_model = False

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        reply = scripted_counseling_reply(request)
        for word in re.findall(r"\S+\s*", reply):
            yield word
            await asyncio.sleep(0)  # one delta at a time, like a real stream
