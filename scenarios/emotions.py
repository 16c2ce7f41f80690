"""The eight emotion tags of the session contract, and how a counselor meets each."""

from __future__ import annotations

from typing import Literal, get_args

Emotion = Literal["happy", "sad", "angry", "anxious", "neutral", "surprised", "disgusted", "fearful"]
EMOTIONS: tuple[str, ...] = get_args(Emotion)

# Contract section 3: one guidance paragraph per emotion.
GUIDANCE: dict[str, dict[str, str]] = {
    "anxious": {
        "en": "The user seems anxious. Be calm and grounding; offer one concrete coping step "
              "(slow breathing, naming what is in their control).",
        "ko": "사용자가 불안해 보입니다. 차분하고 안정감 있게 말하고, 구체적인 대처 방법 하나"
              "(천천히 숨쉬기, 통제할 수 있는 것 적어보기)를 제안하세요.",
    },
    "sad": {
        "en": "The user seems sad. Lead with empathy and comfort; do not rush to fix.",
        "ko": "사용자가 슬퍼 보입니다. 공감과 위로를 먼저 전하고, 서둘러 해결하려 하지 마세요.",
    },
    "angry": {
        "en": "The user seems angry. Accept the feeling without judging it, de-escalate, and "
              "help them find a constructive way to express it.",
        "ko": "사용자가 화가 나 보입니다. 감정을 판단하지 말고 받아들이며 진정을 돕고, "
              "건설적으로 표현하는 방법을 함께 찾으세요.",
    },
    "happy": {
        "en": "The user seems happy. Reinforce what went well and what they did to make it happen.",
        "ko": "사용자가 기뻐 보입니다. 잘된 점과 그렇게 만든 사용자의 노력을 강화해 주세요.",
    },
    "fearful": {
        "en": "The user seems afraid. Put safety first and suggest small, manageable steps.",
        "ko": "사용자가 두려워 보입니다. 안전을 먼저 확인하고, 작고 감당할 수 있는 단계를 제안하세요.",
    },
    "surprised": {
        "en": "The user seems surprised. Explore the experience with curiosity: what happened "
              "and what it meant to them.",
        "ko": "사용자가 놀란 것 같습니다. 무슨 일이 있었고 어떤 의미였는지 호기심을 갖고 탐색하세요.",
    },
    "disgusted": {
        "en": "The user seems disgusted. Validate the reaction and talk about their boundaries.",
        "ko": "사용자가 불쾌해 보입니다. 그 반응을 인정하고 사용자의 경계에 대해 이야기하세요.",
    },
    "neutral": {
        "en": "Listen attentively and reflect back what you hear.",
        "ko": "주의 깊게 경청하고 들은 내용을 되짚어 주세요.",
    },
}
