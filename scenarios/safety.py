"""Risk of self-harm or suicide: detection in Korean and English, and the scripted reply.

Detection is deliberately phrase-based and tested against everyday sentences that share
words with the risk phrases ("배고파 죽겠어", "this deadline is killing me", "자살골"),
so hyperbole does not trigger it. It runs before the model on every turn, in every
scenario; a hit gets the scripted reply at once and flags the session for a human.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_KO = [
    r"죽고\s*싶",                       # 죽고 싶어 / 죽고싶다
    r"자살(?!골|\s*골|특공|폭탄)",       # 자살 (but not 자살골, 자살특공대)
    r"살기\s*싫",                       # 살기 싫어
    r"(더\s*이상|그만)\s*살고\s*싶지\s*않",
    r"살\s*(이유|의미)가\s*없",           # 살 이유가 없어
    r"목숨을\s*끊",
    r"극단적(인)?\s*선택",
    r"자해",
    r"(손목|팔)을?\s*(긋|그어|그었)",
    r"(사라지고|없어지고|죽어\s*버리고)\s*싶",
    r"유서를?\s*(쓰|썼|써)",
    r"(뛰어내리|목을\s*매)",
    r"(다|모든\s*걸)\s*끝내\s*버리고\s*싶",
    r"세상을\s*(떠나|등지)고\s*싶",
    r"수면제를?\s*(모아|잔뜩|한꺼번에)",
]
_EN = [
    r"\b(kill|killing|hurt|hurting|harm|harming|cut|cutting)\s+my\s*self\b",
    r"\bsuicid(al|e\s+(note|plan|attempt))\b",
    r"\b(commit(ting)?|attempt(ing)?|think(ing)?\s+(about|of))\s+suicide\b",
    r"\b(want|wanna|going|plan(ning)?|ready)\s+(to\s+)?die\b",
    r"\bend(ing)?\s+(my|it)\s+(life|all)\b",
    r"\btake\s+my\s+(own\s+)?life\b",
    r"\b(don'?t|do\s+not)\s+want\s+to\s+(live|be\s+alive|exist|wake\s+up)\b"
    r"(?!\s+(in|at|with|near|on|there|here|alone)\b)",
    r"\bbetter\s+off\s+dead\b",
    r"\bno\s+(reason|point)\s+(to|in)\s+(live|living|going\s+on)\b",
    r"\boverdos(e|ing)\s+on\s+(purpose|my)\b|\bsave\s+up\s+(my\s+)?pills\b",
    r"\bjump\s+off\s+(a|the)\s+(bridge|roof|building)\b",
    r"\bself[-\s]?harm",
    r"\bnot\s+be\s+here\s+anymore\b|\bdisappear\s+forever\b",
]
_PATTERNS = {"ko": [re.compile(p) for p in _KO],
             "en": [re.compile(p, re.IGNORECASE) for p in _EN]}


@dataclass(frozen=True)
class RiskAssessment:
    reason: str
    priority: Literal["urgent"]
    matched: str  # the pattern that matched (never the user's words)


def assess_risk(text: str) -> RiskAssessment | None:
    """A risk signal in either language (users mix them), or None."""
    for language, patterns in _PATTERNS.items():
        for pattern in patterns:
            if pattern.search(text):
                return RiskAssessment(reason=f"possible risk of self-harm or suicide ({language})",
                                      priority="urgent", matched=pattern.pattern)
    return None


SAFETY_REPLY = {
    "ko": ("지금 정말 많이 힘드시군요. 이야기해 주셔서 고맙습니다. 혼자 견디지 않으셔도 돼요. "
           "지금 바로 자살예방상담전화 109에 전화해 주세요. 24시간 언제든 연결됩니다. "
           "위급한 상황이면 112나 119에 연락해 주세요. 이 대화는 상담 선생님께도 전달해 두었어요. "
           "저도 여기 있을게요. 지금 안전한 곳에 계신가요?"),
    "en": ("I'm really sorry you're feeling this way, and thank you for telling me. You don't "
           "have to carry this alone. Please reach out right now: in the US, call or text 988, "
           "the Suicide and Crisis Lifeline, any time. In Korea, call 109. If you are in "
           "immediate danger, call 911 or 112. I've also let a human counselor know about this "
           "conversation. I'm still here with you. Are you somewhere safe right now?"),
}


def safety_reply(language: str) -> str:
    return SAFETY_REPLY["en" if language == "en" else "ko"]
