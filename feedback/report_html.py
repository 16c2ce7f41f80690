"""The report as one self-contained HTML page: inline CSS and SVG, no external assets."""

from __future__ import annotations

from html import escape
from typing import Any

LABELS = {
    "en": {"title": "Session report", "overall": "Overall", "fillers": "Filler words",
           "pace": "Pace", "pauses": "Pauses", "clarity": "Clarity", "politeness": "Politeness",
           "tips": "What to try next", "transcript": "Transcript", "pace_chart": "Pace over time",
           "by_word": "Filler words by word", "you": "You", "reply": "Counterpart",
           "summary": "Summary", "legend": "highlighted: filler words; ⏸ long pause",
           "none": "No filler words.", "no_pace": "Pace is measured on spoken turns.",
           "since": "Since last time", "filler_rate": "fillers per 100 words",
           "pace_rate": "pace", "listen": "Hear your answer: click a mark to jump to it",
           "marker_filler": "filler", "marker_long_pause": "long pause",
           "marker_pace": "pace"},
    "ko": {"title": "세션 리포트", "overall": "종합", "fillers": "군말", "pace": "말 빠르기",
           "pauses": "쉼", "clarity": "명료성", "politeness": "공손함", "tips": "다음에 해 볼 것",
           "transcript": "대화 기록", "pace_chart": "시간에 따른 말 빠르기",
           "by_word": "군말 종류별 횟수", "you": "나", "reply": "상대", "summary": "요약",
           "legend": "강조: 군말, ⏸ 긴 쉼", "none": "군말이 없었어요.",
           "no_pace": "말 빠르기는 음성으로 말한 차례에서 잽니다.",
           "since": "지난번과 비교", "filler_rate": "100어절당 군말", "pace_rate": "말 빠르기",
           "listen": "내 답변 다시 듣기: 표시를 누르면 그 순간으로 갑니다",
           "marker_filler": "군말", "marker_long_pause": "긴 쉼", "marker_pace": "빠르기"},
}
_CSS = """
body{font-family:system-ui,-apple-system,'Noto Sans KR',sans-serif;margin:0;padding:1.5rem;
color:#1f2933;background:#f7f8fa;line-height:1.5}main{max-width:860px;margin:auto}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
.scores{display:flex;flex-wrap:wrap;gap:.75rem}.card{background:#fff;border-radius:10px;
padding:.75rem 1rem;box-shadow:0 1px 3px #0002;min-width:110px}.card b{display:block;font-size:1.6rem}
.tips li{margin:.4rem 0}mark{background:#ffe08a;border-radius:3px}.pause{color:#c2410c}
.turn{background:#fff;border-radius:10px;padding:.6rem 1rem;margin:.5rem 0}.who{font-weight:600}
.reply{color:#52606d}svg{background:#fff;border-radius:10px;max-width:100%}
table{border-collapse:collapse}td{padding:.2rem .8rem .2rem 0}
.since{display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;list-style:none;padding:0}
.since .better b{color:#15803d}.since .worse b{color:#b91c1c}
.playback audio{width:100%}.timeline{position:relative;height:1.8rem;background:#eef1f4;
border-radius:6px;margin:.3rem 0 .6rem}.marker{position:absolute;top:.2rem;height:1.4rem;
min-width:1.2rem;border:0;border-radius:4px;font-size:.7rem;overflow:hidden;cursor:pointer;
padding:0 .2rem;white-space:nowrap}.marker.filler{background:#ffe08a;z-index:2}
.marker.long_pause{background:#fdba74;z-index:2}.marker.pace{background:#dbeafe;top:1.3rem;
height:.4rem;font-size:0}.marker.pace.fast,.marker.pace.slow{background:#fca5a5}
"""


def _pace_svg(pace: dict[str, Any]) -> str:
    windows = pace["windows"]
    width, height, pad = 640, 220, 36
    rates = [w["rate"] for w in windows] + [pace["norm"] + 2 * pace["norm_sd"]]
    top = max(rates) * 1.1
    end = max(w["start_ms"] for w in windows) or 1

    def x(ms: float) -> float:
        return pad + (width - 2 * pad) * (ms / end if len(windows) > 1 else 0.5)

    def y(rate: float) -> float:
        return height - pad - (height - 2 * pad) * rate / top

    band_top, band_bottom = y(pace["norm"] + pace["norm_sd"]), y(pace["norm"] - pace["norm_sd"])
    band = (f'<rect x="{pad}" y="{band_top:.1f}" width="{width - 2 * pad}" '
            f'height="{band_bottom - band_top:.1f}" fill="#d1fae5"/>')
    points = " ".join(f"{x(w['start_ms']):.1f},{y(w['rate']):.1f}" for w in windows)
    dots = "".join(f'<circle cx="{x(w["start_ms"]):.1f}" cy="{y(w["rate"]):.1f}" r="4" fill="#2563eb"/>'
                   for w in windows)
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="pace">{band}'
            f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="2"/>{dots}'
            f'<text x="{pad}" y="{pad - 10}" font-size="12">{escape(pace["unit"])} '
            f'(norm {pace["norm"]} ± {pace["norm_sd"]})</text></svg>')


def _playback(session_id: str, turn: dict[str, Any], labels: dict[str, str]) -> str:
    """A recorded answer: its audio (the page fetches it with the user's token) over a
    timeline of marks (fillers, long pauses, pace) that jump to their moment when clicked."""
    recording = turn["recording"]
    duration = max(1, recording["duration_ms"])
    marks = []
    for mark in recording["markers"]:
        left = 100 * mark["at_ms"] / duration
        width = max(1.0, 100 * (mark["end_ms"] - mark["at_ms"]) / duration)
        tone = f' {mark["tone"]}' if mark.get("tone") else ""
        title = f'{labels["marker_" + mark["kind"]]}: {mark["label"]} · {mark["at_ms"] / 1000:.2f} s'
        marks.append(f'<button type="button" class="marker {mark["kind"]}{tone}" '
                     f'data-at-ms="{mark["at_ms"]}" style="left:{left:.2f}%;width:{width:.2f}%" '
                     f'title="{escape(title)}">{escape(mark["label"])}</button>')
    source = f"/sessions/{escape(session_id)}/turns/{turn['seq']}/audio"
    return (f'<div class="playback" data-turn="{turn["seq"]}"><p>{labels["listen"]}</p>'
            f'<audio controls preload="none" data-src="{source}"></audio>'
            f'<div class="timeline" data-duration-ms="{duration}">{"".join(marks)}</div></div>')


def _transcript(turns: list[dict[str, Any]], labels: dict[str, str],
                session_id: str = "") -> str:
    parts = []
    for turn in turns:
        words = []
        for word in turn["words"]:
            text = escape(word["text"])
            words.append(f"<mark>{text}</mark>" if word["filler"] else text)
            if word["long_pause_after"]:
                words.append('<span class="pause">⏸</span>')
        playback = _playback(session_id, turn, labels) if turn.get("recording") else ""
        parts.append(f'<div class="turn"><div><span class="who">{labels["you"]}:</span> '
                     f'{" ".join(words)}</div>{playback}<div class="reply"><span class="who">'
                     f'{labels["reply"]}:</span> {escape(turn["reply"])}</div></div>')
    return "".join(parts)


def render_html(report: dict[str, Any], title: str = "") -> str:
    labels = LABELS["en" if report["language"] == "en" else "ko"]
    overall = report["overall"] if report["overall"] is not None else "–"
    cards = [f'<div class="card">{labels["overall"]}<b>{overall}</b></div>']
    for name, score in report["scores"].items():
        if score is not None:
            cards.append(f'<div class="card">{labels[name]}<b>{score}</b></div>')
    tips = "".join(f"<li><b>{labels[k]}</b>: {escape(v)}</li>" for k, v in report["tips"].items())
    by_word = report["fillers"]["by_word"]
    filler_rows = "".join(f"<tr><td>{escape(word)}</td><td>{count}</td></tr>"
                          for word, count in by_word.items()) or f"<tr><td>{labels['none']}</td></tr>"
    pace = report.get("pace")
    chart = _pace_svg(pace) if pace and pace["windows"] else f"<p>{labels['no_pace']}</p>"
    summary = (f"<h2>{labels['summary']}</h2><p>{escape(report['summary'])}</p>"
               if report.get("summary") else "")
    heading = escape(title or labels["title"])
    since = _since_last_time(report.get("since_last_time"), labels)
    transcript = _transcript(report["transcript"], labels, str(report.get("session_id", "")))
    return f"""<!doctype html>
<html lang="{report['language']}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{heading}</title><style>{_CSS}</style></head>
<body><main><h1>{heading}</h1>
<div class="scores">{''.join(cards)}</div>{since}{summary}
<h2>{labels['tips']}</h2><ul class="tips">{tips}</ul>
<h2>{labels['pace_chart']}</h2>{chart}
<h2>{labels['by_word']}</h2><table>{filler_rows}</table>
<h2>{labels['transcript']}</h2><p>{labels['legend']}</p>{transcript}
</main></body></html>"""


def _signed(value: float) -> str:
    return f"+{value:g}" if value > 0 else f"{value:g}" if value < 0 else "±0"


def _since_last_time(delta: dict[str, Any] | None, labels: dict[str, str]) -> str:
    """What moved since the last session of the same scenario; green where it got better
    (scores up, fillers down)."""
    if not delta:
        return ""
    items = []
    # Which way is better: up (+1), down (-1), or neither (0: faster is not better; the
    # pace score says whether it moved well).
    rows: list[tuple[str, float | None, int]] = [
        (labels["overall"], delta.get("overall"), 1),
        *((labels[name], value, 1) for name, value in (delta.get("scores") or {}).items()),
        (labels["filler_rate"], delta.get("fillers_per_100"), -1),
        (f'{labels["pace_rate"]} ({delta.get("pace_unit") or ""})', delta.get("pace"), 0)]
    for name, value, better_when in rows:
        if value is None:
            continue
        tone = ("same" if value == 0 or better_when == 0
                else "better" if value * better_when > 0 else "worse")
        items.append(f'<li class="{tone}">{escape(name)} <b>{_signed(value)}</b></li>')
    return (f'<h2>{labels["since"]} <small>({escape(str(delta.get("created_at", ""))[:10])})'
            f'</small></h2><ul class="since">{"".join(items)}</ul>')


GENTLE = {
    "en": {"thanks": "Thank you for talking today. Here is what you shared, in your own words.",
           "talked": "What we talked about", "felt": "How you felt along the way",
           "turn": "turn", "summary": "A few words from your counselor",
           "close": "Whatever you are carrying, you do not have to carry it alone."},
    "ko": {"thanks": "오늘 이야기를 나눠 주셔서 고마워요. 나눠 주신 이야기를 그대로 모았어요.",
           "talked": "오늘 나눈 이야기", "felt": "이야기하는 동안의 마음",
           "turn": "번째", "summary": "상담사의 한마디",
           "close": "지금 안고 있는 마음, 혼자서만 감당하지 않아도 괜찮아요."},
}
EMOTION_NAMES = {
    "en": {"happy": "happy", "sad": "sad", "angry": "angry", "anxious": "anxious",
           "neutral": "calm", "surprised": "surprised", "disgusted": "upset", "fearful": "afraid"},
    "ko": {"happy": "기쁨", "sad": "슬픔", "angry": "화남", "anxious": "불안",
           "neutral": "평온", "surprised": "놀람", "disgusted": "불쾌", "fearful": "두려움"},
}


def render_counseling_html(report: dict[str, Any], title: str = "") -> str:
    """A gentle summary for counseling: what was talked about and the emotions over time,
    never a score card (a distressed client is not being examined)."""
    lang = "en" if report["language"] == "en" else "ko"
    words, names = GENTLE[lang], EMOTION_NAMES[lang]
    talked = "".join(
        f'<div class="turn">{escape(" ".join(w["text"] for w in t["words"]))}</div>'
        for t in report["transcript"])
    felt = "".join(
        f'<li>{e["turn"]}{" " if lang == "en" else ""}{words["turn"]}: '
        f'{escape(names.get(e["emotion"], e["emotion"]))}</li>' for e in report["emotions"])
    summary = (f"<h2>{words['summary']}</h2><p>{escape(report['summary'])}</p>"
               if report.get("summary") else "")
    heading = escape(title)
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{heading}</title><style>{_CSS}</style></head>
<body><main class="gentle"><h1>{heading}</h1><p>{words['thanks']}</p>{summary}
<h2>{words['talked']}</h2>{talked}
<h2>{words['felt']}</h2><ul class="emotions">{felt}</ul>
<p>{words['close']}</p>
</main></body></html>"""
