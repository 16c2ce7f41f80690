"""The progress page: per scenario, line charts of each session's scores, filler rate and
pace over time, as inline SVG (no scripts, fonts or images from anywhere)."""

from __future__ import annotations

from html import escape
from typing import Any

from feedback.progress import SCORES

LABELS = {
    "en": {"title": "Your progress", "none": "No scored practice yet: finish a rehearsal and "
           "its report will start your progress here.", "sessions": "sessions",
           "scores": "Scores (0-100)", "fillers": "Fillers per 100 words", "pace": "Pace",
           "overall": "overall", "session": "Session",
           "series": {"overall": "overall", "fillers": "fillers", "pace": "pace",
                      "pauses": "pauses", "clarity": "clarity", "politeness": "politeness"}},
    "ko": {"title": "연습 기록", "none": "아직 점수가 매겨진 연습이 없어요. 연습을 끝내면 "
           "리포트와 함께 여기에 기록이 쌓여요.", "sessions": "회",
           "scores": "점수 (0-100)", "fillers": "100어절당 군말", "pace": "말 속도",
           "overall": "종합", "session": "회차",
           "series": {"overall": "종합", "fillers": "군말", "pace": "속도", "pauses": "쉼",
                      "clarity": "명료성", "politeness": "공손함"}},
}
COLOURS = {"overall": "#1f4e79", "fillers": "#c0504d", "pace": "#9bbb59", "pauses": "#8064a2",
           "clarity": "#4bacc6", "politeness": "#f79646"}
_CSS = """body{font-family:system-ui,sans-serif;margin:0;background:#fafafa;color:#222}
main{max-width:52rem;margin:auto;padding:1rem}section{background:#fff;border-radius:8px;
padding:1rem;margin:1rem 0;box-shadow:0 1px 3px #0002}svg{width:100%;height:auto}
.legend span{margin-right:1rem;white-space:nowrap}.legend i{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;border-radius:2px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:right}td:first-child,
th:first-child{text-align:left}"""
WIDTH, HEIGHT, PAD = 640, 220, 36


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - 2 * PAD) * (index / (count - 1) if count > 1 else 0.5)


def _line_chart(series: dict[str, list[float | None]], top: float, label: str,
                count: int) -> str:
    """Lines over sessions 1..count, y from 0 to `top`; a missing value breaks its line."""
    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * min(value, top) / top

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
             'stroke="#999"/>']
    for fraction in (0, 0.5, 1):
        value = top * fraction
        parts.append(f'<text x="4" y="{y(value) + 4:.1f}" font-size="11">{value:g}</text>')
    for index in range(count):
        parts.append(f'<text x="{_x(index, count) - 4:.1f}" y="{HEIGHT - 12}" '
                     f'font-size="11">{index + 1}</text>')
    for name, values in series.items():
        colour = COLOURS.get(name, "#555")
        points = [(_x(i, count), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="line" data-series="{escape(name)}" fill="none" '
                         f'stroke="{colour}" stroke-width="2" points="{path}"/>')
        for px, py in points:
            parts.append(f'<circle class="point" data-series="{escape(name)}" cx="{px:.1f}" '
                         f'cy="{py:.1f}" r="3.5" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_progress_html(scenarios: list[dict[str, Any]], language: str) -> str:
    labels: dict[str, Any] = LABELS["en" if language == "en" else "ko"]
    sections = []
    for scenario in scenarios:
        sessions = scenario["sessions"]
        count = len(sessions)
        scores = {"overall": [s["overall"] for s in sessions]}
        for name in SCORES:
            values = [s["scores"].get(name) for s in sessions]
            if any(v is not None for v in values):
                scores[name] = values
        legend = "".join(f'<span><i style="background:{COLOURS[name]}"></i>'
                         f'{labels["series"][name]}</span>' for name in scores)
        rates = [s["fillers_per_100"] for s in sessions]
        top_rate = max([5.0, *(r for r in rates if r is not None)])
        paces = [s["pace"] for s in sessions]
        unit = next((s["pace_unit"] for s in sessions if s["pace_unit"]), "")
        top_pace = max([1.0, *(p for p in paces if p is not None)]) * 1.2
        rows = "".join(
            f'<tr><td>{i + 1} · {escape(s["created_at"][:10])}</td><td>{_cell(s["overall"])}</td>'
            f'<td>{_cell(s["fillers_per_100"])}</td><td>{_cell(s["pace"])}</td></tr>'
            for i, s in enumerate(sessions))
        sections.append(
            f'<section class="scenario" data-scenario="{escape(scenario["scenario"])}">'
            f'<h2>{escape(scenario["title"])} <small>({count} {labels["sessions"]})</small></h2>'
            f'<h3>{labels["scores"]}</h3><p class="legend">{legend}</p>'
            f'{_line_chart(scores, 100, labels["scores"], count)}'
            f'<h3>{labels["fillers"]}</h3>'
            f'{_line_chart({"fillers": rates}, top_rate, labels["fillers"], count)}'
            f'<h3>{labels["pace"]} ({escape(unit)})</h3>'
            f'{_line_chart({"pace": paces}, top_pace, labels["pace"], count)}'
            f'<table><tr><th>{labels["session"]}</th><th>{labels["overall"]}</th>'
            f'<th>{labels["fillers"]}</th><th>{labels["pace"]}</th></tr>{rows}</table>'
            '</section>')
    body = "".join(sections) or f'<p class="empty">{labels["none"]}</p>'
    return f"""<!doctype html>
<html lang="{'en' if language == 'en' else 'ko'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{labels['title']}</title><style>{_CSS}</style></head>
<body><main><h1>{labels['title']}</h1>{body}</main></body></html>"""


def _cell(value: float | int | None) -> str:
    return "–" if value is None else f"{value:g}"
