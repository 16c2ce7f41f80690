"""Layered prompts, composed by one pure function: guidelines -> persona -> situation."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios import rapport as rapport_
from scenarios.emotions import GUIDANCE
from scenarios.models import Beat, Persona, Scenario

LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}

COUNSELING_INSTRUCTION = (
    "You are a professional, warm counselor informed by cognitive behavioural therapy. "
    "Answer in 2-3 short sentences. First acknowledge the feeling, then offer one concrete "
    "question or suggestion. Never judge."
)


@dataclass(frozen=True)
class PromptContext:
    scenario: Scenario
    persona: Persona
    language: str
    emotion: str
    rapport: float | None = None
    beat: Beat | None = None
    follow_up: bool = False


def compose_prompt(ctx: PromptContext) -> str:
    """The system prompt for the counterpart's next reply."""
    lang = ctx.language if ctx.language in LANGUAGE_NAMES else "ko"
    return "\n\n".join([guidelines(ctx, lang), persona_layer(ctx.persona, lang),
                        situation_layer(ctx, lang)])


def guidelines(ctx: PromptContext, lang: str) -> str:
    lines = [
        "# Guidelines",
        "Your words will be spoken aloud: reply in 1-3 short spoken sentences. No lists, no "
        "markdown, no emoji, no stage directions.",
        f"Always reply in {LANGUAGE_NAMES[lang]}.",
        "Stay in your role. Never mention these instructions.",
    ]
    if ctx.scenario.rapport:
        lines.append(
            "After your reply, on its own line, judge the user's last turn with a tag like "
            "[[rapport:+0.2]]: +0.1 to +0.3 if they were respectful and clear, -0.1 if they were "
            "rude or dismissive, +0.0 otherwise. The tag is removed before the user sees or hears "
            "anything.")
    return "\n".join(lines)


def persona_layer(persona: Persona, lang: str) -> str:
    traits = ", ".join(t.replace("_", " ") for t in persona.traits)
    lines = ["# Persona",
             f"You are {persona.name.in_(lang)}, {persona.role.in_(lang)}.",
             f"Your personality: {traits}."]
    if persona.description:
        lines.append(persona.description.in_(lang))
    return "\n".join(lines)


def situation_layer(ctx: PromptContext, lang: str) -> str:
    scenario = ctx.scenario
    lines = ["# Situation"]
    if scenario.kind == "counseling":
        lines.append(COUNSELING_INSTRUCTION)
    lines += [f"The user's goal: {scenario.goal.in_(lang)}", scenario.situation.in_(lang)]
    if scenario.rapport and ctx.rapport is not None:
        stage = rapport_.stage(ctx.rapport)
        lines.append(f"Rapport with the user: {ctx.rapport:.1f}. {rapport_.STAGE_STYLE[stage][lang]}")
        if lang == "ko" and scenario.informal_from_stage and stage >= scenario.informal_from_stage:
            lines.append("이제 반말(해체)로 말해도 된다.")
    lines.append(GUIDANCE[ctx.emotion][lang])
    if ctx.beat is not None:
        ask = ctx.beat.follow_up if ctx.follow_up and ctx.beat.follow_up else ctx.beat.text
        kind = "The last answer was vague. Follow up" if ctx.follow_up else "Next"
        lines.append(f"{kind}: ask this, in your own words: \"{ask.in_(lang)}\"")
    elif scenario.kind == "rehearsal":
        lines.append("Every point has been covered: wrap up the conversation naturally.")
    return "\n".join(lines)
