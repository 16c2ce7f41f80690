"""The filler evaluation set: how it is made, how the acoustic model is fitted on it, and
how well filler detection does on it.

    python bench/filler_set.py build   # synthesise tests/data/fillers/ (audio + labels)
    python bench/filler_set.py fit     # fit feedback/acoustic.py's weights on the train half
    python bench/filler_set.py eval    # recall/precision per language and split, as JSON

Each utterance is a rehearsal answer put together from separately synthesised pieces, so
every piece's time is known exactly: phrases, fillers (filled pauses "um/uh/hmm/er",
"음/어/으/그/저"; lexical "so/like/you know/I mean" at a clause start) and distractors that
are not fillers (laughter, a breath, a cough, a word cut off after its first syllable, a
hummed tune). Voices: Piper en_US-joe-medium at three speaking rates, espeak-ng English
and Korean with several variants, rates and pitches. The last 32 utterances of each
language draw their filled pauses out (400-800 ms, "uhm" gliding into the nasal): the
TTS's own are 140-420 ms and steady, a person's often longer and moving. A filled pause
is scaled to 0-6 dB under the loudness of the phrase it precedes and a laugh to within
3 dB of it (said on their own, TTS fillers come out as loud as a sentence's peak, and a
model fitted on that learns "louder than the words = filler", which a person's "um" is
not). Each utterance is mixed with real room tone (bench/clips.py) or fan noise at 15 dB
SNR, or left quiet. The synthetic pieces are made once and kept as Ogg Opus with
`labels.json`, so the set is data: the numbers the tests assert do not move with Piper's
randomness (`build` only adds the utterances the set lacks).

Even-numbered utterances are the training half (the acoustic model is fitted on their
unclaimed stretches), odd-numbered ones the held-out half the tests check. Voices cycle
with the index, so the two halves have different voices: the held-out figures are for
voices the model has never heard, as a user's voice is.

Korean phrases come from espeak-ng, which Whisper does not understand (bench/voice_quality.py):
the Korean half measures the filled pauses (which do not need the words to be right), not
lexical fillers, which need a recogniser that understands the voice.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.clips import fan_noise, room_tone
from bench.clips import load as load_clip

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "fillers"
RATE = 16_000
PER_LANGUAGE = 128
# From this index on, filled pauses are drawn out as people draw them out: 400-800 ms, the
# vowel gliding into the nasal ("uhm"), at the voice's pitch or lower. The first 96 have
# the TTS's own 140-420 ms fillers, steady and short, and a model fitted on those alone
# called a real 740 ms "um" p 0.09 (docs/feedback.md).
DRAWN_OUT_FROM = 96
TOLERANCE_MS = 150

PHRASES = {
    "en": [
        "I led the team through a difficult migration last spring.",
        "we shipped it two weeks early.",
        "my biggest strength is staying calm under pressure.",
        "I would start by listening to the customer.",
        "the budget was cut in half halfway through.",
        "I learned to ask for help sooner.",
        "our numbers went up by twenty percent.",
        "I think the plan needs one more review.",
        "we disagreed about the deadline.",
        "I wrote the proposal and presented it to the board.",
        "that project taught me patience.",
        "the client called me on a Sunday.",
    ],
    "ko": [
        "지난 프로젝트에서 팀을 이끌었습니다.",
        "일정이 많이 촉박했습니다.",
        "고객의 이야기를 먼저 들었습니다.",
        "예산이 절반으로 줄었습니다.",
        "저는 침착하게 일하는 편입니다.",
        "결과는 이십 퍼센트 좋아졌습니다.",
        "마감 기한에 대해 의견이 달랐습니다.",
        "보고서를 작성해서 발표했습니다.",
    ],
}
FILLED = {"en": ["Um.", "Uh.", "Umm...", "Uhh...", "Hmm.", "Er."],
          "ko": ["음...", "어...", "으...", "그...", "저..."]}
DRAWN_OUT = {"en": ["Umm...", "Uhh...", "Uhm...", "Uhmm...", "Hmm...", "Err..."],
             "ko": ["음...", "어...", "으...", "그...", "저...", "어음..."]}
LEXICAL = {"en": ["So,", "Like,", "You know,", "I mean,"], "ko": []}
LAUGH = {"en": "Ha ha ha!", "ko": "하하하!"}
DISTRACTORS = ("laugh", "breath", "cough", "cutoff", "hum")


def _voices(language: str) -> list[tuple[str, Any]]:
    from audio import models
    from audio.tts import EspeakTTS, PiperTTS

    if language == "en":
        joe = models.piper_joe()
        return [("piper-joe-1.0", PiperTTS(joe)), ("piper-joe-0.8", PiperTTS(joe, length_scale=0.8)),
                ("piper-joe-1.25", PiperTTS(joe, length_scale=1.25)),
                ("espeak-en-us", EspeakTTS("en-us", 165)),
                ("espeak-en-gb-rp+f3-p70", EspeakTTS("en-gb-x-rp+f3", 150, pitch=70)),
                ("espeak-en-us+m3-p35", EspeakTTS("en-us+m3", 185, pitch=35)),
                ("espeak-en-us+f2-p60", EspeakTTS("en-us+f2", 140, pitch=60)),
                ("espeak-en-gb-scotland+m1", EspeakTTS("en-gb-scotland+m1", 175, pitch=45))]
    return [("espeak-ko", EspeakTTS("ko", 165)), ("espeak-ko+f3-p70", EspeakTTS("ko+f3", 150, pitch=70)),
            ("espeak-ko+m3-p35", EspeakTTS("ko+m3", 185, pitch=35)),
            ("espeak-ko+f2", EspeakTTS("ko+f2", 170, pitch=60)),
            ("espeak-ko+m1", EspeakTTS("ko+m1", 150, pitch=45)),
            ("espeak-ko+f4-p65", EspeakTTS("ko+f4", 175, pitch=65))]


def _drawn_out(tts: Any, rng: np.random.Generator) -> Any:
    """The same voice, speaking a filled pause the way a person draws one out: Piper at
    2-3 times its length, espeak-ng at 65-100 words a minute and up to 15 lower in pitch."""
    from audio import models
    from audio.tts import EspeakTTS, PiperTTS

    if isinstance(tts, PiperTTS):  # the set's one Piper voice
        return PiperTTS(models.piper_joe(), length_scale=float(rng.uniform(2.0, 3.0)))
    return EspeakTTS(tts.voice, int(rng.integers(65, 101)),
                     pitch=max(0, tts.pitch - int(rng.integers(0, 16))))


async def _say(tts: Any, text: str) -> np.ndarray:
    import soxr

    pcm = np.frombuffer(b"".join([c async for c in tts.synthesize(text)]), np.int16)
    audio = soxr.resample(pcm.astype(np.float32), tts.sample_rate, RATE)
    loud = np.nonzero(np.abs(audio) > 0.02 * np.abs(audio).max())[0]
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def _loudness(sound: np.ndarray) -> float:
    """RMS over the sounding part (samples above 5 % of the peak)."""
    loud = sound[np.abs(sound) > 0.05 * np.abs(sound).max()]
    return float(np.sqrt(np.mean(loud ** 2))) if len(loud) else 0.0


def _as_loud(sound: np.ndarray, words: np.ndarray, db: float) -> np.ndarray:
    """`sound` scaled to `db` decibels against the loudness of `words`."""
    own = _loudness(sound)
    return sound * (_loudness(words) / own * 10 ** (db / 20)) if own else sound


def _breath(rng: np.random.Generator, level: float) -> np.ndarray:
    """An in-breath: band-limited noise (500-2500 Hz) under a slow rise and fall."""
    n = int(rng.uniform(0.3, 0.55) * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 500) | (freqs > 2500)] = 0
    noise = np.fft.irfft(spectrum, n)
    return noise / np.abs(noise).max() * np.hanning(n) * level * 0.25


def _cough(rng: np.random.Generator, level: float) -> np.ndarray:
    """A cough: a sharp broadband burst that decays over ~200 ms."""
    n = int(rng.uniform(0.18, 0.3) * RATE)
    t = np.arange(n) / RATE
    noise = rng.standard_normal(n) * np.exp(-t / 0.06)
    return noise / np.abs(noise).max() * level * 0.8


def _hum(rng: np.random.Generator, level: float) -> np.ndarray:
    """Humming a tune: a nasal tone whose pitch moves by a few semitones every ~150 ms."""
    notes = rng.integers(0, 7, size=int(rng.integers(4, 7)))
    base = rng.uniform(110, 200)
    f0 = np.concatenate([np.full(int(0.15 * RATE), base * 2 ** (n / 12)) for n in notes])
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k ** 1.5 for k in range(1, 6))
    envelope = np.minimum(1, np.minimum(np.arange(len(f0)), np.arange(len(f0))[::-1]) / 400)
    return tone / np.abs(tone).max() * envelope * level * 0.6


async def _distractor(kind: str, tts: Any, language: str, rng: np.random.Generator,
                      level: float) -> np.ndarray:
    if kind == "laugh":
        return await _say(tts, LAUGH[language])
    if kind == "cutoff":
        word = await _say(tts, str(rng.choice(PHRASES[language])))
        return word[: int(rng.uniform(0.12, 0.22) * RATE)]
    return {"breath": _breath, "cough": _cough, "hum": _hum}[kind](rng, level)


async def build() -> None:
    """Synthesise the utterances the set lacks (up to PER_LANGUAGE per language). Those
    already kept stay as they are: Piper is random, so remaking them would move the figures."""
    DATA.mkdir(parents=True, exist_ok=True)
    kept = {item["file"]: item for item in load_set()} if (DATA / "labels.json").exists() else {}
    labels = []
    for language in ("en", "ko"):
        voices = _voices(language)
        for index in range(PER_LANGUAGE):
            if (name := f"{language}_{index:02d}.opus") in kept:
                labels.append(kept[name])
                continue
            rng = np.random.default_rng(1000 * (language == "ko") + index)
            voice_name, tts = voices[index % len(voices)]
            phrases = rng.choice(PHRASES[language], size=3, replace=False)
            pieces: list[tuple[str, str, np.ndarray]] = []
            for position, phrase in enumerate(phrases):
                spoken = await _say(tts, str(phrase))
                level = float(np.percentile(np.abs(spoken), 95))
                if rng.random() < 0.55:
                    drawn_out = index >= DRAWN_OUT_FROM
                    filler = str(rng.choice((DRAWN_OUT if drawn_out else FILLED)[language]))
                    said = await _say(_drawn_out(tts, rng) if drawn_out else tts, filler)
                    # Said on its own, a TTS "Um." comes out as loud as a sentence's peak; a
                    # speaker's "um" is as loud as their words or softer.
                    pieces.append(("filler", filler, _as_loud(said, spoken, rng.uniform(-6, 0))))
                elif LEXICAL[language] and rng.random() < 0.4:
                    filler = str(rng.choice(LEXICAL[language]))
                    pieces.append(("filler", filler, _as_loud(await _say(tts, filler), spoken, 0)))
                if position > 0 and rng.random() < 0.5:
                    kind = str(DISTRACTORS[(index + position) % len(DISTRACTORS)])
                    sound = await _distractor(kind, tts, language, rng, level)
                    if kind == "laugh":
                        sound = _as_loud(sound, spoken, rng.uniform(-3, 3))
                    pieces.append(("distractor", kind, sound))
                pieces.append(("phrase", str(phrase), spoken))
            audio, spans, cursor = [np.zeros(int(0.3 * RATE))], [], int(0.3 * RATE)
            for kind, text, sound in pieces:
                if kind == "filler" and text.endswith(","):
                    gap = int(rng.uniform(0.03, 0.08) * RATE)  # a lexical filler runs on
                else:
                    gap = int(rng.uniform(0.18, 0.5) * RATE)
                audio.append(sound)
                spans.append({"kind": kind, "text": text, "start_ms": cursor * 1000 // RATE,
                              "end_ms": (cursor + len(sound)) * 1000 // RATE})
                audio.append(np.zeros(gap))
                cursor += len(sound) + gap
            clip = np.concatenate([*audio, np.zeros(int(0.3 * RATE))])
            noise = ("quiet", "room_tone", "fan_15db")[index % 3]
            (DATA / name).write_bytes(save(clip))
            labels.append({"file": name, "language": language, "voice": voice_name,
                           "noise": noise, "split": "train" if index % 2 == 0 else "test",
                           "pieces": spans})
    (DATA / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(labels)} utterances in {DATA}")


def save(clip: np.ndarray) -> bytes:
    """A clean clip as the gateway keeps a recorded answer (Ogg Opus, ~26 kbit/s)."""
    from audio import recording

    return recording.encode(np.clip(clip, -32768, 32767).astype(np.int16), RATE)


def load_set() -> list[dict[str, Any]]:
    return json.loads((DATA / "labels.json").read_text())


def load_audio(item: dict[str, Any], directory: Path = DATA) -> np.ndarray:
    """The utterance with its noise: the clean voice is kept, the noise is mixed in here,
    the same every time (real room tone, or seeded fan noise)."""
    from audio import recording

    clean, rate = recording.decode((directory / item["file"]).read_bytes())
    assert rate == RATE
    clip = clean.astype(np.float64)
    voice_level = float(np.sqrt(np.mean(clip[np.abs(clip) > 300] ** 2)))
    if item["noise"] == "room_tone":
        tone = room_tone(len(clip))
        clip += tone / np.sqrt(np.mean(tone ** 2)) * voice_level * 10 ** (-38 / 20)
    elif item["noise"] == "fan_15db":
        clip += fan_noise(len(clip)) * voice_level * 10 ** (-15 / 20)
    return np.clip(clip, -32768, 32767).astype(np.int16)


def recogniser(models_dir: Path | None = None) -> Any:
    """The recogniser the gateway uses: tiny.en for English, base for Korean, beam 1, with
    the disfluent prompt that keeps more fillers. Each model loads on its first use; the
    caller closes it (`aclose`), so one recogniser serves every measure below."""
    from audio import models
    from audio.stt import FILLER_PROMPT, STTOptions, WhisperSTT

    base = models.whisper_base(models_dir or Path.home() / ".cache" / "parley")
    return WhisperSTT({"en": models.whisper_tiny_en(), "ko": base, "auto": base},
                      options=STTOptions(initial_prompt=FILLER_PROMPT, max_seconds=30))


T = TypeVar("T")


async def with_recogniser(measure: Callable[[Any], Awaitable[T]]) -> T:
    """`measure(stt)` with a recogniser of its own, closed after."""
    stt = recogniser()
    try:
        return await measure(stt)
    finally:
        await stt.aclose()


async def detect(stt: Any, item: dict[str, Any], audio: np.ndarray) -> list[Any]:
    """What Parley reports as fillers for this utterance, exactly as the gateway does."""
    return (await heard(stt, item["language"], audio))[1]


async def heard(stt: Any, language: str, audio: np.ndarray) -> tuple[Any, list[Any]]:
    """The turn Parley makes of one utterance (Whisper's words and the stretches of voice
    none of them claims), and the fillers it reports from it."""
    from feedback.fillers import detect_fillers
    from feedback.types import Turn, Word
    from gateway.scoring import unclaimed_stretches

    transcript = await stt.transcribe(audio, language=language)
    words = tuple(Word(w.text, w.start_ms, w.end_ms, w.probability) for w in transcript.words)
    stretches = await asyncio.to_thread(unclaimed_stretches, audio, words, language)
    turn = Turn(words, language, (), "voice",  # type: ignore[arg-type]
                hesitations=stretches)
    return turn, list(detect_fillers(turn).fillers)


# Recorded speech with no filled pause in it (tests/fixtures, sources in its SOURCES.md): the
# set is synthetic, so these check what it cannot, that real speech gets no invented "um".
REAL_WITHOUT_FILLED_PAUSES = {"jfk_16k.wav": "en", "leopard_test_en_16k.wav": "en",
                              "licence_en_16k.wav": "en", "leopard_test_ko_16k.wav": "ko"}


async def on_real_speech(stt: Any) -> dict[str, Any]:
    """The filled pauses (written or heard) Parley reports on each of those recordings,
    which should be none, and how many words it heard there."""
    result: dict[str, Any] = {}
    for name, language in REAL_WITHOUT_FILLED_PAUSES.items():
        turn, found = await heard(stt, language, load_clip(name))
        result[name] = {"words": len(turn.words),
                        "filled_pauses": [(f.text, f.start_ms, f.end_ms, f.confidence)
                                          for f in found if f.kind != "lexical"]}
    return result


MEETING = Path(__file__).resolve().parents[1] / "tests" / "data" / "meeting"
MEETING_CHANNELS = "ABCD"


def meeting_channel(letter: str) -> np.ndarray:
    """One headset of the AMI meeting minute in tests/data/meeting (its SOURCES.md)."""
    from audio import recording

    pcm, rate = recording.decode((MEETING / f"ami_{letter}.opus").read_bytes())
    assert rate == RATE
    return pcm


async def on_meeting(stt: Any) -> dict[str, Any]:
    """A minute of a real meeting (AMI, four headsets; verbatim transcript, no word times):
    each headset cut into turns by the gateway's VAD, and the filled pauses Parley reports
    in them, beside the "um"s and "uh"s of the transcript and its backchannels ("mm-hmm",
    "mm"). With no word times, which report is which is judged by hand (docs/feedback.md)."""
    from feedback.fillers import BACKCHANNELS
    from feedback.types import normalize

    result: dict[str, Any] = {}
    for letter in MEETING_CHANNELS:
        words = [normalize(w) for w in (MEETING / f"ami_{letter}.txt").read_text().split()]
        result[letter] = {"um_uh": sum(w in ("um", "uh") for w in words),
                          "mm_or_backchannel": sum(w in BACKCHANNELS or w == "mm"
                                                   for w in words),
                          "filled_pauses": await by_turns(stt, meeting_channel(letter), "en")}
    return result


async def by_turns(stt: Any, audio: np.ndarray, language: str) -> list[tuple[str, int, int, float]]:
    """The filled pauses Parley reports in a recording cut into turns by the gateway's VAD,
    as a user's microphone would be (two seconds of silence after it): (text, start, end,
    confidence), in the recording's time."""
    from audio.vad import TurnDetector, VADOptions
    from bench.clips import speech_stops

    reported = []
    for stop in speech_stops(TurnDetector(VADOptions(), 2, silero=True), audio, tail_s=2.0):
        _, found = await heard(stt, language, stop.audio)
        reported += [(f.text, stop.audio_start_ms + f.start_ms,
                      stop.audio_start_ms + f.end_ms, round(f.confidence, 2))
                     for f in found if f.kind != "lexical"]
    return reported


FALSE_START_CUTS_MS = (120, 180, 250)
FALSE_START_WORDS = 5
FALSE_START_GAP_MS = 300


def false_start(audio: np.ndarray, start_ms: int, cut_ms: int) -> np.ndarray:
    """The recording with a false start at `start_ms`: the word there begun and cut off
    after `cut_ms` (10 ms fade), a 300 ms pause, then the word said again and the rest."""
    at = start_ms * RATE // 1000
    piece = audio[at:at + cut_ms * RATE // 1000].astype(np.float32)
    piece[-RATE // 100:] *= np.linspace(1, 0, len(piece[-RATE // 100:]))
    pause = np.zeros(FALSE_START_GAP_MS * RATE // 1000, dtype=np.int16)
    return np.concatenate([audio[:at], piece.astype(np.int16), pause, audio[at:]])


async def on_real_false_starts(stt: Any) -> dict[str, Any]:
    """Cut-off words in real speech, which are not fillers: in each recording above, each
    of its first five words of 200 ms or more (where Whisper puts them on the clean
    recording) begun and cut off after 120, 180 or 250 ms, then said again. Every filled
    pause Parley reports in these is a false one."""
    mixes, reported = 0, []
    for name, language in REAL_WITHOUT_FILLED_PAUSES.items():
        audio = load_clip(name)
        clean = await stt.transcribe(audio, language=language)
        starts = [w.start_ms for w in clean.words if w.end_ms - w.start_ms >= 200]
        for start_ms in starts[:FALSE_START_WORDS]:
            for cut_ms in FALSE_START_CUTS_MS:
                _, found = await heard(stt, language, false_start(audio, start_ms, cut_ms))
                mixes += 1
                reported += [(name, start_ms, cut_ms, f.start_ms, f.end_ms, round(f.confidence, 2))
                             for f in found if f.kind != "lexical"]
    return {"mixes": mixes, "false_filled_pauses": len(reported), "reported": reported}


def score(item: dict[str, Any], found: list[Any]) -> dict[str, int]:
    """True positives, misses and false fillers, matching by time (±150 ms)."""
    truth = [p for p in item["pieces"] if p["kind"] == "filler"]
    used = [False] * len(found)
    hits = 0
    for piece in truth:
        for i, filler in enumerate(found):
            if used[i] or filler.start_ms is None:
                continue
            if (filler.start_ms < piece["end_ms"] + TOLERANCE_MS
                    and filler.end_ms > piece["start_ms"] - TOLERANCE_MS):
                used[i] = True
                hits += 1
                break
    return {"hits": hits, "misses": len(truth) - hits, "false": used.count(False)}


async def evaluate(stt: Any, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rows = []
    for item in items or load_set():
        found = await detect(stt, item, load_audio(item))
        rows.append({**score(item, found), "language": item["language"], "split": item["split"],
                     "file": item["file"],
                     "found": [(f.text, f.start_ms, f.kind, f.confidence) for f in found]})
    return summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for language in ("en", "ko"):
        for split in ("train", "test", "all"):
            chosen = [r for r in rows if r["language"] == language and split in (r["split"], "all")]
            hits = sum(r["hits"] for r in chosen)
            misses = sum(r["misses"] for r in chosen)
            false = sum(r["false"] for r in chosen)
            result[f"{language}_{split}"] = {
                "utterances": len(chosen), "fillers": hits + misses, "found": hits,
                "false": false,
                "recall": round(hits / (hits + misses), 3) if hits + misses else None,
                "precision": round(hits / (hits + false), 3) if hits + false else None}
    result["rows"] = rows
    return result


async def candidates(stt: Any) -> list[tuple[Any, ...]]:
    """Every unclaimed stretch in the set, labelled: (features, is a filler, what it is)."""
    out = []
    for item in load_set():
        turn, _ = await heard(stt, item["language"], load_audio(item))
        for h in turn.hesitations:
            what = "noise"
            for piece in item["pieces"]:
                if h.start_ms < piece["end_ms"] and h.end_ms > piece["start_ms"]:
                    what = piece["text"] if piece["kind"] == "filler" else piece["kind"]
                    if piece["kind"] == "distractor":
                        what = piece["text"]
            is_filler = any(p["kind"] == "filler" and h.start_ms < p["end_ms"]
                            and h.end_ms > p["start_ms"] for p in item["pieces"])
            out.append((h.features, is_filler, what, item["split"], item["language"]))
    return out  # type: ignore[return-value]


def fit(rows: list[Any]) -> dict[str, Any]:
    """Logistic regression (L2 on the weights, gradient descent) on the training half's
    stretches: one set of weights, an intercept per language."""
    from feedback.acoustic import FEATURES

    train = [r for r in rows if r[3] == "train"]
    x = np.array([[r[0][f] for f in FEATURES] for r in train])
    y = np.array([1.0 if r[1] else 0.0 for r in train])
    languages = sorted({r[4] for r in train})
    one_hot = np.array([[1.0 if r[4] == lang else 0.0 for lang in languages] for r in train])
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - means) / scales
    w, b = np.zeros(len(FEATURES)), np.zeros(len(languages))
    for _ in range(5000):
        p = 1 / (1 + np.exp(-(z @ w + one_hot @ b)))
        w -= 0.1 * (z.T @ (p - y) / len(y) + 0.01 * w)
        b -= 0.1 * one_hot.T @ (p - y) / len(y)
    return {"means": [round(float(v), 3) for v in means],
            "scales": [round(float(v), 3) for v in scales],
            "weights": [round(float(v), 3) for v in w],
            "bias": {lang: round(float(v), 3) for lang, v in zip(languages, b, strict=True)},
            "train_stretches": len(train), "train_fillers": int(y.sum())}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "eval"
    if command == "build":
        asyncio.run(build())
    elif command == "fit":
        rows = asyncio.run(with_recogniser(candidates))
        print(json.dumps(fit(rows), indent=1))
        for features, is_filler, what, split, language in sorted(rows, key=lambda r: r[1:3]):
            print(language, split, "FILLER" if is_filler else "other ", f"{what:12s}",
                  {k: round(v, 2) for k, v in features.items()})
    else:
        result = asyncio.run(with_recogniser(evaluate))
        if "--rows" not in sys.argv:
            result.pop("rows")
        print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
