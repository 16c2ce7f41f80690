"""An offline counterpart with no network, so the gateway works without any key.

It is not a language model. It plays the scenario from the turn plan the gateway made:
the counselor reflects the user's words and asks one question; the interviewer walks its
question bank with follow-ups on vague answers; the manager presses for numbers and next
steps; the partner and the customer react to how they are spoken to. In rehearsals it
judges the turn with simple politeness cues and tags its reply like a real model would.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from gateway.counterpart import TurnPlan
from gateway.llm.base import LLM, LLMRequest
from scenarios.models import Localized

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
# How each persona takes an answer: (answered well, answer was vague or curt).
_REACTIONS: dict[str, tuple[Localized, Localized]] = {
    "interviewer": (Localized(ko="네, 잘 들었습니다.", en="Thank you, that's helpful."),
                    Localized(ko="조금 더 구체적으로 듣고 싶은데요.", en="I'd like a bit more detail.")),
    "manager": (Localized(ko="알겠어요.", en="Okay."),
                Localized(ko="그걸로는 부족해요.", en="That's not enough.")),
    "partner": (Localized(ko="응, 그랬구나.", en="Okay, I hear you."),
                Localized(ko="그게 무슨 말이야?", en="What do you mean?")),
    "customer": (Localized(ko="네, 그건 알겠어요.", en="Okay, I get that."),
                 Localized(ko="그 얘긴 이미 들었어요.", en="I've heard that before.")),
}
_DEFAULT_REACTION = (Localized(ko="네, 알겠습니다.", en="I see."),
                     Localized(ko="조금 더 말씀해 주시겠어요?", en="Could you say a bit more?"))
_POLITE = re.compile(r"please|thank|sorry|apologi[sz]e|appreciate|understand|could you|would you|"
                     r"감사|죄송|고맙|부탁|이해|양해|미안|주시겠|드리겠", re.IGNORECASE)
_RUDE = re.compile(r"shut up|whatever|stupid|idiot|your problem|not my problem|calm down|"
                   r"don'?t care|닥쳐|어쩌라고|알아서 해|짜증|바보|상관없|니가 뭔데", re.IGNORECASE)


def judge(message: str) -> float:
    """The scripted counterpart's rapport judgement of a user turn."""
    if _RUDE.search(message):
        return -0.1
    if _POLITE.search(message):
        return 0.2
    return 0.1 if len(message.split()) >= 8 else 0.0


def _topic(message: str) -> str:
    """A short echo of the user's own words (their first clause, at most 40 characters)."""
    clause = re.split(r"[.?!。\n,]", message.strip(), maxsplit=1)[0].strip()
    return clause[:40].rstrip()


def counseling_reply(request: LLMRequest, question: str) -> str:
    lang = request.language if request.language in _ACKNOWLEDGE else "ko"
    topic = _topic(request.messages[-1].content if request.messages else "")
    reflection = (f"'{topic}'라고 하셨네요." if lang == "ko" else f'You said "{topic}".') if topic else ""
    return " ".join(p for p in (_ACKNOWLEDGE[lang][request.emotion], reflection, question) if p)


def _plan(request: LLMRequest) -> TurnPlan | None:
    plan = request.extras.get("plan")
    assert plan is None or isinstance(plan, TurnPlan)
    return plan


def rehearsal_reply(request: LLMRequest, plan: TurnPlan) -> str:
    lang = "en" if request.language == "en" else "ko"
    message = request.messages[-1].content if request.messages else ""
    good, vague = _REACTIONS.get(plan.persona.id, _DEFAULT_REACTION)
    follow_up = plan.next.follow_up
    parts = [(vague if follow_up else good).in_(lang)]
    beat = plan.next.beat
    if beat is not None:
        parts.append((beat.follow_up if follow_up and beat.follow_up else beat.text).in_(lang))
    else:
        parts.append("오늘 이야기 고맙습니다." if lang == "ko" else "Thank you, that covers it.")
    if plan.scenario.rapport:
        parts.append(f"[[rapport:{judge(message):+.1f}]]")
    return " ".join(parts)


class ScriptedLLM(LLM):
    provider = "scripted"
    model = "scripted"
    is_language_model = False

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        plan = _plan(request)
        if plan is None or plan.scenario.kind == "counseling":
            lang = "en" if request.language == "en" else "ko"
            beat = plan.next.beat if plan is not None else None
            question = beat.text.in_(lang) if beat is not None else ""
            reply = counseling_reply(request, question)
        else:
            reply = rehearsal_reply(request, plan)
        for word in re.findall(r"\S+\s*", reply):
            yield word
            await asyncio.sleep(0)  # one delta at a time, like a real stream
