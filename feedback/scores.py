"""Each metric mapped to 0-100 by a documented formula, one overall score from the
scenario's weights, and one concrete, non-judgmental tip per metric.

Formulas (see docs/feedback.md):
- fillers: 100 up to 2 per 100 words, 60 at 4, 0 at 8 (linear between).
- pace: 100 within one SD of the norm (articulation rate, so pauses never count twice),
  minus 20 per further SD.
- pauses: 100 minus 15 per long pause (1.2 s+); always 100 where pauses are not penalised.
- clarity: 100 minus 50 x share of low-confidence words, minus 5 per repetition or restart
  (at most 30), minus 5 per hedge per 100 words where hedges matter, minus 10 per very
  long sentence.
- politeness: Korean, 100 x share of sentences at an expected level, minus 10 per
  polite/plain switch; English, 70 + 10 per polite strategy (at most +30) - 15 per
  impolite one.
"""

from __future__ import annotations

from feedback.clarity import ClarityReport
from feedback.fillers import FillerReport
from feedback.pace import PaceReport
from feedback.pauses import PauseReport
from feedback.politeness import EnglishPoliteness, KoreanPoliteness


def _clamp(value: float) -> int:
    return round(max(0.0, min(100.0, value)))


def filler_score(report: FillerReport) -> int:
    rate = report.per_100
    if rate <= 2:
        return 100
    if rate <= 4:
        return _clamp(100 - 20 * (rate - 2))
    return _clamp(60 - 15 * (rate - 4))


def pace_z(report: PaceReport) -> float | None:
    rate = report.articulation_rate
    return None if rate is None else (rate - report.norm) / report.norm_sd


def pace_score(report: PaceReport) -> int | None:
    z = pace_z(report)
    return None if z is None else _clamp(100 - 20 * max(0.0, abs(z) - 1))


def pause_score(report: PauseReport, penalize: bool) -> int:
    return 100 if not penalize else _clamp(100 - 15 * len(report.long_pauses))


def clarity_score(report: ClarityReport, hedges_matter: bool) -> int:
    score = 100.0
    if report.low_confidence_share is not None:
        score -= 50 * report.low_confidence_share
    score -= min(30, 5 * (len(report.repetitions) + len(report.restarts)))
    if hedges_matter:
        score -= 5 * report.hedges_per_100
    score -= 10 * report.long_sentences
    return _clamp(score)


def korean_politeness_score(report: KoreanPoliteness) -> int | None:
    if report.matching_share is None:
        return None
    return _clamp(100 * report.matching_share - 10 * report.switches)


def english_politeness_score(report: EnglishPoliteness) -> int:
    polite = len({s.name for s in report.strategies if s.polite})
    rude = sum(1 for s in report.strategies if not s.polite)
    return _clamp(70 + min(30, 10 * polite) - 15 * rude)


def overall(scores: dict[str, int | None], weights: dict[str, float]) -> int | None:
    """Weighted mean of the scores present (a metric without data, or weight 0, is left out)."""
    parts = [(score, weights.get(name, 0.0)) for name, score in scores.items()
             if score is not None and weights.get(name, 0.0) > 0]
    total = sum(weight for _, weight in parts)
    return round(sum(score * weight for score, weight in parts) / total) if total else None


TIPS: dict[str, dict[str, dict[str, str]]] = {
    "fillers": {
        "good": {"en": "Your wording flowed without filler words; keep letting short silences do that work.",
                 "ko": "군더더기 말 없이 잘 이어 갔어요. 지금처럼 짧은 침묵을 활용해 보세요."},
        "work": {"en": "When you need a moment, try a silent pause instead of \"um\" or \"like\": "
                       "close the sentence, breathe, then start the next one.",
                 "ko": "생각할 시간이 필요할 때는 '음', '그러니까' 대신 잠깐 멈춰 보세요. "
                       "문장을 끝내고 숨을 한 번 쉰 뒤 다음 문장을 시작하면 됩니다."},
    },
    "pace": {
        "good": {"en": "Your pace was easy to follow; keep it.",
                 "ko": "말의 빠르기가 듣기 편했어요. 지금 속도를 유지해 보세요."},
        "fast": {"en": "Try slowing down a little: pause for a beat at each comma and full stop.",
                 "ko": "조금만 천천히 말해 보세요. 쉼표와 마침표마다 한 박자 쉬면 좋아요."},
        "slow": {"en": "Try keeping the words of one phrase together, and save pauses for the "
                       "ends of sentences.",
                 "ko": "한 구절 안의 말은 이어서 하고, 쉬는 것은 문장 끝에서 해 보세요."},
    },
    "pauses": {
        "good": {"en": "Your pauses were natural and well placed.",
                 "ko": "쉬는 타이밍이 자연스러웠어요."},
        "work": {"en": "Before answering, take a moment to plan your first sentence; then keep "
                       "going until it ends.",
                 "ko": "답하기 전에 첫 문장을 먼저 정리해 보세요. 시작한 문장은 끝까지 이어서 말해 보세요."},
        "never": {"en": "Take all the time you need; pauses are welcome here.",
                  "ko": "필요한 만큼 천천히 말씀하셔도 괜찮아요. 여기서는 쉬어 가셔도 됩니다."},
    },
    "clarity": {
        "good": {"en": "Your points came across clearly.",
                 "ko": "하고 싶은 말이 분명하게 전달되었어요."},
        "work": {"en": "Lead with your main point in one short sentence, then give one concrete "
                       "example.",
                 "ko": "핵심을 짧은 한 문장으로 먼저 말하고, 구체적인 예를 하나 덧붙여 보세요."},
    },
    "politeness": {
        "good": {"en": "Your tone fitted the situation well.",
                 "ko": "상황에 맞는 말투를 잘 사용했어요."},
        "work": {"en": "Try framing requests as questions (\"Could you...?\") and thanking the "
                       "other person for their time.",
                 "ko": "이 상황에서는 '-습니다/-요'로 문장을 끝까지 맞춰 말해 보세요. 부탁할 때는 "
                       "'-해 주시겠어요?'처럼 물어보면 좋아요."},
    },
}


def tip(metric: str, score: int | None, language: str, *, detail: str = "work") -> str:
    """One concrete tip: what to do next, never a judgement of the person."""
    lang = "en" if language == "en" else "ko"
    key = "good" if score is not None and score >= 85 and detail != "never" else detail
    return TIPS[metric][key][lang]
