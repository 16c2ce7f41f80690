"""Feedback: how right the fillers are, and how fast the metrics and reports are.

Prints JSON with filler recall and precision per language over the evaluation set
(`bench/filler_set.py`, tests/data/fillers: train half, held-out half, all), over real
transcripts' fillers said by the same voices (`bench/spoken_verbatim.py`), the filled
pauses reported on recorded speech that has none (tests/fixtures), p50/p95 of
`analyze_turn` on a realistic 6 s English and Korean voice turn, and the time to build (and
render) the report of 300 such turns.

    python bench/feedback.py            # everything (the filler set takes a few minutes)
    python bench/feedback.py --speed    # only the speed figures
    python bench/feedback.py --earnings22 PATH/speech-datasets/earnings22
        # and filled pauses on real calls with verbatim transcripts, where their audio has
        # been fetched from Git LFS (bench/verbatim_fillers.py; about an hour on 2 cores)
    python bench/feedback.py --disfluency-speech PATH/DisfluencySpeech
        # and filled pauses on DisfluencySpeech's test split, real speech whose transcripts
        # mark every disfluency, where it has been fetched (bench/disfluency_speech.py)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedback.analyze import analyze_turn
from feedback.report import ReportTurn, build_report
from feedback.report_html import render_html
from feedback.types import Expectations, Span, Turn, Word

EN = ("Um, so I think my biggest strength is, uh, probably staying calm when things get "
      "stressful. Like, in my last job we had this, you know, really tight deadline.")
KO = ("음, 저는 그러니까 팀 안에서 소통하는 것을 제일 중요하게 생각합니다. 어, 지난 프로젝트에서는 "
      "일정이 많이 촉박했는데, 그래도 끝까지 잘 마무리했습니다.")
EXPECT = Expectations(hedges_matter=True)


def voice_turn(text: str, language: str, start_ms: int = 0) -> Turn:
    words, voiced, t = [], [], start_ms
    for i, token in enumerate(text.split()):
        words.append(Word(token, t, t + 260, 0.6 + (i % 4) / 10))
        voiced.append(Span(t, t + 260))
        t += 260 + (700 if i % 9 == 8 else 60)
    return Turn(tuple(words), language, tuple(voiced), "voice")  # type: ignore[arg-type]


def timings(fn, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        values.append((time.perf_counter() - started) * 1000)
    values.sort()
    return {"p50": round(statistics.median(values), 3),
            "p95": round(values[int(0.95 * len(values))], 3)}


def main() -> None:
    en, ko = voice_turn(EN, "en"), voice_turn(KO, "ko")
    session = [ReportTurn(i, voice_turn(EN, "en", start_ms=i * 6000), "Thanks, go on.")
               for i in range(300)]
    result = {
        "benchmark": "feedback",
        "utterance_words": {"en": len(en.words), "ko": len(ko.words)},
        "metrics_per_utterance_ms": {"en": timings(lambda: analyze_turn(en, EXPECT), 500),
                                     "ko": timings(lambda: analyze_turn(ko, EXPECT), 500)},
        "report_300_turns_ms": timings(lambda: build_report(session, EXPECT, "en"), 10),
        "report_300_turns_with_html_ms": timings(
            lambda: render_html(build_report(session, EXPECT, "en")), 10),
        "targets": {"metrics_per_utterance_ms": 5, "report_300_turns_ms": 200,
                    "filler_recall": 0.9, "filler_precision": 0.9},
    }
    if "--speed" not in sys.argv:
        from bench import filler_set, spoken_verbatim

        async def on_speech(stt: Any) -> dict[str, Any]:
            fillers = await filler_set.evaluate(stt)
            fillers.pop("rows")
            spoken = await spoken_verbatim.evaluate(stt)
            return {"fillers": fillers,
                    "fillers_where_people_put_them": spoken["en"],
                    "untimed_scoring_calibration": await spoken_verbatim.calibration(
                        spoken["rows"]),
                    "real_speech_without_filled_pauses": await filler_set.on_real_speech(stt),
                    "real_false_starts": await filler_set.on_real_false_starts(stt),
                    "real_meeting": await filler_set.on_meeting(stt)}

        result.update(asyncio.run(filler_set.with_recogniser(on_speech)))
    if "--earnings22" in sys.argv:
        from bench import verbatim_fillers

        root = Path(sys.argv[sys.argv.index("--earnings22") + 1])
        real = asyncio.run(verbatim_fillers.measure(root, seconds=20, count=8))
        result["real_speech_fillers"] = {"en": real["en"], "per_call": real["per_call"]}
    if "--disfluency-speech" in sys.argv:
        from bench import disfluency_speech

        root = Path(sys.argv[sys.argv.index("--disfluency-speech") + 1])
        clips = asyncio.run(disfluency_speech.measure(root))
        result["real_speech_fillers_disfluencyspeech"] = {"en": clips["en"]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
