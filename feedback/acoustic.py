"""Filled pauses the recogniser did not write down, decided from the sound itself.

Whisper drops many "um"/"uh"/"음"/"어", most often at the start of an answer and before a
verb. What is left in the audio is a stretch of voice that no word claims. Such a stretch
is a filled pause only if it sounds like one: a single steady vowel or nasal (periodic,
with a flat pitch and an unchanging spectrum), at the speaker's own loudness, a few hundred
milliseconds long. Laughter (breathy bursts), breath and coughs (noise), a cut-off word
(a consonant-vowel transition) and humming a tune (pitch that moves) are not.

`hesitations` finds the unclaimed stretches in one utterance's audio and gives each a
probability from a logistic model over seven features; the weights were fitted on the
training half of the evaluation set that `bench/filler_set.py` builds (synthetic voices
with room noise; see there) and are checked on its other half by the tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from feedback.fillers import backchannel_words, is_filled_pause
from feedback.types import Hesitation, Word, normalize

RATE = 16_000
HOP = 160            # 10 ms
PITCH_WINDOW = 480   # 30 ms: two periods at 70 Hz
SPECTRUM_WINDOW = 400
MIN_F0, MAX_F0 = 70.0, 400.0
VOICED_CORRELATION = 0.5
ISLAND_GAP_MS = 90      # quieter stretches shorter than this stay inside an island
ISLAND_MIN_MS = 80
CANDIDATE_MIN_MS, CANDIDATE_MAX_MS = 120, 2000
# A word the recogniser was less sure of than this claims no sound: Whisper writes a guessed
# word over a filled pause it did not catch ("if" for "Uhh...", "I" stretched back over
# "Um."). Real words come out that unsure too, and their sound then reads as an "um" (JFK's
# "ask" at 0.34 after a false start: p 0.88). Chosen on real false starts (`bench/filler_set.py`
# on_real_false_starts: filled pauses reported in 60 mixes) against the training half's
# English recall / precision: 0.4: 15, 0.86 / 0.91; 0.3: 8, 0.85 / 0.92; 0.25: 4, 0.82 /
# 0.94; 0.1: 2, 0.79 / 0.94.
GUESSED = 0.25
TYPICAL_LOG_MS = float(np.log(400))  # filled pauses run ~200-800 ms; 400 ms is their middle
ONSET_LOOKBACK_MS = 100  # how far before the VAD's start a stretch's sound may begin
EDGE_BLIP_MS = 100       # a lone stretch this short at either end of a turn is not speech
EDGE_GAP_MS = 200        # ... when this far from the rest (a pause's least length)
# A stretch that may be the first word is a filler only on this much evidence: JFK's "And"
# alone before a pause reads 0.80; the evaluation set's dropped openers read 0.87-0.995
# (two Korean ones 0.62 and 0.65, which this threshold loses).
OPENING_SURE = 0.85
# A filler that runs into the words around it without a silence shares their stretch (one
# island: "plant, um, it's"). Where the aligner's words leave 150 ms or more of such a
# stretch free, that piece is a candidate too, but only on sure evidence and where a filler
# goes: Whisper closed the word before it with a pause mark (or it opens the turn), a word
# follows (a drawn-out last word's tail is left free when the aligner makes it short), it is
# not between a word and its repetition ("as, as") and not beside a laugh ("ha, ha"). Chosen
# on the spoken set (`bench/spoken_verbatim.py`) and the filler set's training half, with the
# real false starts and the AMI minute; docs/feedback.md has the figures and what was tried.
# Where Whisper wrote a filler between those words, the piece is its sound whatever it reads.
BETWEEN_WORDS_MIN_MS = 150
BETWEEN_WORDS_SURE = 0.96
WORD_EDGE_MS = 20  # an aligned word's sound reaches this far past the frames it was given
# The aligner's edge between a word and a filler run into each other is loose, so a free
# piece may hold the word's last or first sound too, and read as a word. A filled pause is
# a vowel or a nasal held: a piece not surely one is judged again on its steadiest part,
# the longest run of voiced hops (gaps of up to STEADY_GAP_HOPS bridged) whose spectrum
# moves at under STEADY_FLUX of the speaker's own rate, if that runs STEADY_MIN_MS. Chosen
# on the spoken set and the filler set's training half; docs/feedback.md has the figures.
STEADY_FLUX = 0.5
STEADY_MIN_MS = 200
STEADY_GAP_HOPS = 2
PAUSE_MARKS = ",.;:!?…"
_LAUGH = re.compile(r"^-?(ha|he|hi|ho)+$")

FEATURES = ("log_duration", "voiced_fraction", "pitch_spread", "flux_vs_speaker",
            "spread_vs_speaker", "level", "length_oddness")
# Logistic weights over the standardised features (means and scales below), fitted by
# `bench/filler_set.py fit` on the training half of the evaluation set. The intercept is the
# language's: how often an unclaimed stretch is a filler depends on the recogniser (Korean
# words Whisper gets wrong leave pieces of themselves unclaimed; English words rarely do).
# Fitted on the stretches Whisper's word times left; refitted on those the aligned words
# leave (`audio.align`), it read no better on either set (docs/feedback.md), so it stands.
MEANS = (5.83, 0.7, 1.55, 0.785, 0.621, 0.122, 0.366)
SCALES = (0.583, 0.265, 1.808, 0.255, 0.277, 4.502, 0.413)
WEIGHTS = (-0.768, 0.399, -0.611, -1.834, -0.682, 0.6, -1.259)
BIAS = {"en": 0.744, "ko": -1.209}


def _frames(audio: np.ndarray, window: int) -> np.ndarray:
    count = max(0, 1 + (len(audio) - window) // HOP)
    if count == 0:
        return np.zeros((0, window), np.float32)
    index = np.arange(window)[None, :] + HOP * np.arange(count)[:, None]
    return audio[index]


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """dB (full scale 0) of each 10 ms hop, over a 20 ms window."""
    frames = _frames(audio, 2 * HOP)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) if len(frames) else np.zeros(0)
    return 20 * np.log10(rms / 32768 + 1e-7)


def louder_than_room(levels: np.ndarray, over_floor_db: float,
                     within_peak_db: float) -> np.ndarray:
    """Which hops are louder than the room: an adaptive threshold `over_floor_db` above the
    noise floor (10th percentile) but no lower than `within_peak_db` under the loudest
    speech (99th percentile)."""
    floor, peak = np.percentile(levels, 10), np.percentile(levels, 99)
    return levels > max(floor + over_floor_db, peak - within_peak_db)


def islands(levels: np.ndarray) -> list[tuple[int, int]]:
    """Stretches (first hop, end hop) louder than the room (9 dB over its floor, within
    35 dB of the loudest speech)."""
    if len(levels) == 0:
        return []
    active = louder_than_room(levels, 9.0, 35.0)
    runs: list[list[int]] = []
    for i, on in enumerate(active):
        if not on:
            continue
        if runs and i - runs[-1][1] <= ISLAND_GAP_MS // 10:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [(a, b) for a, b in runs if (b - a) * 10 >= ISLAND_MIN_MS]


def refine_voiced(audio: np.ndarray, spans: Sequence[tuple[int, int]], *,
                  offset_ms: int = 0, join_ms: int = 200) -> tuple[tuple[int, int], ...]:
    """The VAD's voiced stretches (stream ms) as the time spent speaking: runs closer than
    `join_ms` (a stop consonant, a breath between words) are one stretch, and each stretch's
    ends move in to where the sound is. The VAD decides per 20 ms frame and holds on after
    the voice stops, which made every pause look ~70 ms shorter than it was; the ends are
    now the first and last 10 ms louder than the room (6 dB over its floor, within 34 dB of
    the loudest speech: where a phrase's samples fall under 2 % of its peak, the reference
    bench/pace_truth.py measures against; 40 dB ran on into tails and breaths, making
    pauses up to 82 ms short), and a start may move back up to 100 ms over sound the VAD
    was slow to call speech. A blip under 100 ms standing apart at either end is dropped."""
    merged: list[list[int]] = []
    for start_ms, end_ms in sorted(spans):
        if merged and start_ms - merged[-1][1] < join_ms:
            merged[-1][1] = max(merged[-1][1], end_ms)
        else:
            merged.append([start_ms, end_ms])
    levels = frame_levels(audio.astype(np.float32))
    if len(levels) == 0:
        return tuple((a, b) for a, b in merged)
    loud = louder_than_room(levels, 6.0, 34.0)
    refined = []
    for start_ms, end_ms in merged:
        a = max(0, (start_ms - offset_ms) // 10)
        b = min(len(loud), (end_ms - offset_ms + 9) // 10)
        inside = np.nonzero(loud[a:b])[0]
        if len(inside) == 0:
            refined.append((start_ms, end_ms))
            continue
        first, last = a + int(inside[0]), a + int(inside[-1]) + 1
        # The VAD also starts a little late: let the start move back over sound just before it.
        while first > 0 and first > a - ONSET_LOOKBACK_MS // 10 and loud[first - 1]:
            first -= 1
        refined.append((offset_ms + first * 10, min(end_ms, offset_ms + last * 10)))
    return _without_edge_blips(refined)


def _without_edge_blips(stretches: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """A click, a lip smack or a burst of fan noise the VAD took for voice, standing apart
    before the first words or after the last, is not speech: kept, it made a "pause" at the
    end of an answer (bench/pace_truth.py: 40-60 ms of fan noise 300 ms after the last word,
    twice). No spoken word is this short; inside the turn such stretches stay (a stop
    consonant's burst between two pauses is speech)."""
    def blip(stretch: tuple[int, int], neighbour: tuple[int, int]) -> bool:
        gap = max(neighbour[0] - stretch[1], stretch[0] - neighbour[1])
        return stretch[1] - stretch[0] < EDGE_BLIP_MS and gap >= EDGE_GAP_MS

    while len(stretches) > 1 and blip(stretches[0], stretches[1]):
        stretches = stretches[1:]
    while len(stretches) > 1 and blip(stretches[-1], stretches[-2]):
        stretches = stretches[:-1]
    return tuple(stretches)


def _pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the normalised autocorrelation peak in the voice's range, and its F0."""
    x = frames - frames.mean(axis=1, keepdims=True)
    x = x * np.hanning(frames.shape[1])[None, :]
    spectrum = np.fft.rfft(x, n=1024, axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : frames.shape[1]]
    window_corr = np.correlate(np.hanning(frames.shape[1]), np.hanning(frames.shape[1]), "full")
    window_corr = window_corr[frames.shape[1] - 1:]
    corr = corr / np.maximum(corr[:, :1], 1e-9) / np.maximum(window_corr / window_corr[0], 1e-3)
    low, high = int(RATE / MAX_F0), int(RATE / MIN_F0)
    band = corr[:, low:high]
    lag = band.argmax(axis=1) + low
    return band.max(axis=1), RATE / lag


def _cepstra(frames: np.ndarray) -> np.ndarray:
    """12 cepstral coefficients (no energy term) of 24 log-spaced bands, 100-5000 Hz."""
    x = frames * np.hamming(frames.shape[1])[None, :]
    power = np.abs(np.fft.rfft(x, n=512, axis=1)) ** 2
    edges = np.geomspace(100, 5000, 25) / (RATE / 512)
    bands = np.stack([power[:, int(a):max(int(a) + 1, int(b))].sum(axis=1)
                      for a, b in itertools.pairwise(edges)], axis=1)
    log_bands = np.log(bands + 1e-3)
    n = log_bands.shape[1]
    dct = np.cos(np.pi / n * (np.arange(n)[None, :] + 0.5) * np.arange(1, 13)[:, None])
    return log_bands @ dct.T / n


@dataclass(frozen=True)
class Sound:
    """One utterance's sound, analysed once: its samples, per 10 ms hop its level and 12
    cepstra; and the speaker's own norms over all the sound louder than the room (their
    words): level, and how fast and how far their spectrum moves. A stretch's features are
    measured against these norms, so a soft voice, a monotonous one or a lively one are
    judged each against itself. (Pitch is tracked only where a stretch asks for it.)"""

    samples: np.ndarray
    levels: np.ndarray
    cepstra: np.ndarray
    level: float
    flux: float
    spread: float

    @classmethod
    def of(cls, samples: np.ndarray, levels: np.ndarray,
           found: Sequence[tuple[int, int]]) -> Sound:
        cepstra = _cepstra(_frames(samples, SPECTRUM_WINDOW))
        speech = [cepstra[a:b + 1] for a, b in found]
        flux, spread = _movement(np.concatenate(speech), [len(c) for c in speech])
        return cls(samples, levels, cepstra,
                   float(np.median(np.concatenate([levels[a:b] for a, b in found]))),
                   flux, spread)


def _movement(cepstra: np.ndarray, runs: Sequence[int]) -> tuple[float, float]:
    """How fast a spectrum moves (mean distance between frames 20 ms apart, within each run
    of frames) and how far it wanders (mean distance from its mean), leaving out each run's
    first and last two frames (their windows reach into the silence around it)."""
    steps, inner, at = [], [], 0
    for length in runs:
        run = cepstra[at:at + length]
        at += length
        run = run[2:-2] if len(run) > 6 else run
        inner.append(run)
        if len(run) > 2:
            steps.append(np.linalg.norm(run[2:] - run[:-2], axis=1))
    frames = np.concatenate(inner) if inner else np.zeros((0, 12))
    flux = float(np.mean(np.concatenate(steps))) if steps else 0.0
    spread = (float(np.mean(np.linalg.norm(frames - frames.mean(axis=0), axis=1)))
              if len(frames) > 1 else 0.0)
    return flux, spread


def features(sound: Sound, start: int, end: int) -> dict[str, float]:
    """The seven features of hops [start, end) of an utterance."""
    correlation, f0 = _pitch(_frames(sound.samples[start * HOP: end * HOP + PITCH_WINDOW],
                                     PITCH_WINDOW))
    voiced = correlation >= VOICED_CORRELATION
    semitones = 12 * np.log2(f0[voiced]) if voiced.any() else np.zeros(1)
    # Pitch trackers jump an octave now and then: the median deviation ignores such jumps.
    pitch_spread = (float(np.median(np.abs(semitones - np.median(semitones))))
                    if voiced.sum() > 2 else 6.0)
    cepstra = sound.cepstra[start:end + 1]
    flux, spread = _movement(cepstra, [len(cepstra)])
    log_duration = float(np.log((end - start) * 10))
    return {"log_duration": log_duration,
            "voiced_fraction": float(voiced.mean()) if len(voiced) else 0.0,
            "pitch_spread": pitch_spread,
            "flux_vs_speaker": flux / sound.flux if sound.flux else 1.0,
            "spread_vs_speaker": spread / sound.spread if sound.spread else 1.0,
            "level": float(np.median(sound.levels[start:end])) - sound.level,
            "length_oddness": (log_duration - TYPICAL_LOG_MS) ** 2}


def probability(values: dict[str, float], language: str) -> float:
    z = BIAS["en" if language == "en" else "ko"] + sum(
        w * (values[name] - m) / s
        for name, w, m, s in zip(FEATURES, WEIGHTS, MEANS, SCALES, strict=True))
    return float(1 / (1 + np.exp(-z)))


def hesitations(audio: np.ndarray, words: Sequence[Word], language: str, *,
                offset_ms: int = 0,
                aligned: Sequence[tuple[int, int] | None] | None = None,
                ) -> tuple[Hesitation, ...]:
    """Voiced stretches of one utterance that no recognised word claims, each with its
    probability of being a filled pause. `audio`: int16 16 kHz, starting at `offset_ms` in
    the stream; `words`: the recognised words, stream times; `aligned`: where forced
    alignment put each word's sound (`audio.align.word_spans`, stream times), if it could.

    Aligned, a word claims every stretch that it and the words before it cover at least half
    of, and the one it overlaps most: its sound is where the aligner put it, to the frame. A
    word the aligner gave no place claims nothing (it had nothing to say, or it was a written
    "um"), except a backchannel's, which keeps Whisper's times. A filler that runs into its
    neighbours shares their stretch; the piece of it no aligned word covers is a candidate
    where a filler goes, on sure evidence, or where Whisper wrote one (`_between_words`).

    Otherwise Whisper's times decide, and they are loose. A word claims the stretch it
    overlaps most: Whisper often stretches a word's start back over a dropped "uh" and the
    silence after it, and that "uh" must stay unclaimed. The first word claims the last
    stretch it reaches that no later word claims: the alignment starts it where the window
    starts, so only its end tells where its sound is (faster-whisper trims such a word only
    past twice the median word length). When the stretch its end reaches is a later word's,
    the free one before it is either the first word itself (JFK's "And", then a pause, then
    "so my fellow Americans") or a filler Whisper dropped ("I[0-920]" over "Er." and the "I
    led the team" after it); the sound alone decides, and only with sure evidence
    (`OPENING_SURE`).

    Either way, a filled pause the recogniser wrote does not claim its stretch (the sound is
    its evidence, see `feedback.fillers`), and neither does a word it was guessing at
    (`GUESSED`: the aligner would put such a word on the "uhh" it was written over). A
    backchannel's words do claim theirs: "Mm" "-hmm." is an answer, not an "mm" and a
    "hmm"."""
    samples = audio.astype(np.float32)
    levels = frame_levels(samples)
    found = islands(levels)
    if not found:
        return ()
    sound = Sound.of(samples, levels, found)
    claimed = [False] * len(found)
    covered = [0.0] * len(found)  # by aligned words, in hops
    opening: list[int] = []  # the stretches the first word reaches (Whisper's times)
    first = aligned is None
    answers = backchannel_words([word.text for word in words])
    written = {index for index, word in enumerate(words)  # filled pauses Whisper wrote
               if is_filled_pause(word.text, language) and index not in answers}
    for index, word in enumerate(words):
        span = (word.start_ms, word.end_ms)
        if aligned is not None and (aligned[index] or index not in answers):
            span = aligned[index] or (None, None)
        start_ms, end_ms = span
        if start_ms is None or end_ms is None:
            continue
        starts_window, first = first, False
        if index in written or (
                word.probability is not None and word.probability < GUESSED):
            continue
        a, b = (start_ms - offset_ms) / 10, (end_ms - offset_ms) / 10
        overlaps = [max(0.0, min(b, e) - max(a, s)) for s, e in found]
        touched = [k for k, overlap in enumerate(overlaps) if overlap > 0]
        if aligned is not None:
            for k in touched:
                covered[k] += overlaps[k]
                claimed[k] = claimed[k] or covered[k] * 2 >= found[k][1] - found[k][0]
        if starts_window:
            opening = touched
        elif touched:
            claimed[max(touched, key=overlaps.__getitem__)] = True
    judged: dict[int, dict[str, float]] = {}

    def judge(k: int) -> dict[str, float] | None:
        """Stretch k's features, if it is long enough to be a candidate."""
        a, b = found[k]
        if not CANDIDATE_MIN_MS <= (b - a) * 10 <= CANDIDATE_MAX_MS:
            return None
        if k not in judged:
            judged[k] = features(sound, a, b)
        return judged[k]

    free = [k for k in opening if not claimed[k]]
    if free:
        k, values = free[-1], judge(free[-1])
        if (k == opening[-1] or values is None
                or probability(values, language) < OPENING_SURE):
            claimed[k] = True
    result = []
    for k, (a, b) in enumerate(found):
        if claimed[k] or (values := judge(k)) is None:
            continue
        result.append(_hesitation(offset_ms, a, b, values, language))
    if aligned is not None:
        stretches = [found[k] for k in range(len(found))
                     if claimed[k] or judge(k) is None]  # none of them a candidate itself
        result += _between_words(sound, stretches, words, aligned, written, language,
                                 offset_ms)
    return tuple(sorted(result, key=lambda h: h.start_ms))


def _hesitation(offset_ms: int, start: int, end: int, values: dict[str, float],
                language: str) -> Hesitation:
    return Hesitation(offset_ms + start * 10, offset_ms + end * 10,
                      round(probability(values, language), 3),
                      {name: round(v, 3) for name, v in values.items()})


def _between_words(sound: Sound, stretches: Sequence[tuple[int, int]], words: Sequence[Word],
                   aligned: Sequence[tuple[int, int] | None], written: set[int],
                   language: str, offset_ms: int) -> list[Hesitation]:
    """The pieces of `stretches` (hops) that no aligned word covers, where a filler goes,
    that sound surely like one (`BETWEEN_WORDS_SURE`). Where Whisper wrote a filled pause
    (`written`, by index) between the aligned words around a piece, the written word is the
    evidence that a filler is there and the piece is where: it is kept (from
    `CANDIDATE_MIN_MS`) with whatever probability it has, and `feedback.fillers.confirmed`
    pairs the two. The aligner places no written filler, and Whisper's time for one can be
    300 ms off its sound."""
    edge = WORD_EDGE_MS // 10
    placed = [(i, word, (span[0] - offset_ms) // 10, (span[1] - offset_ms) // 10)
              for i, (word, span) in enumerate(zip(words, aligned, strict=True))
              if span is not None and not is_filled_pause(word.text, language)]
    covered = np.zeros(len(sound.levels) + 1, bool)
    for _, _, start, end in placed:
        covered[max(0, start - edge):max(0, end + edge)] = True
    found = []
    for a, b in stretches:
        if not covered[a:b].any():
            continue
        free = np.flatnonzero(np.diff(np.concatenate([[0], ~covered[a:b], [0]]).astype(int)))
        for start, end in zip(free[::2] + a, free[1::2] + a, strict=True):
            before = [(i, word) for i, word, _, word_end in placed if word_end <= start + edge]
            after = [(i, word) for i, word, word_start, _ in placed if word_start >= end - edge]
            first = before[-1][0] if before else -1
            last = after[0][0] if after else len(words)
            written_here = any(first < i < last for i in written)
            least_ms = CANDIDATE_MIN_MS if written_here else BETWEEN_WORDS_MIN_MS
            if (end - start) * 10 < least_ms or not (written_here or _where_a_filler_goes(
                    before[-1][1] if before else None, after[0][1] if after else None)):
                continue
            start, end = int(start), int(end)
            values = features(sound, start, end)
            p = probability(values, language)
            if p < BETWEEN_WORDS_SURE and (run := steadiest_run(sound, start, end)) is not None:
                steady = features(sound, *run)
                if (q := probability(steady, language)) > p:
                    (start, end), values, p = run, steady, q
            if written_here or p >= BETWEEN_WORDS_SURE:
                found.append(_hesitation(offset_ms, start, end, values, language))
    return found


def steadiest_run(sound: Sound, start: int, end: int) -> tuple[int, int] | None:
    """The longest run of hops in [start, end) that are voiced and whose spectrum holds
    still (`STEADY_FLUX`), gaps of `STEADY_GAP_HOPS` bridged, if it lasts `STEADY_MIN_MS`.
    Hops outside the sound are not in it."""
    least = STEADY_MIN_MS // 10
    start, end = max(0, start), min(end, len(sound.cepstra))
    if end - start < least:
        return None
    correlation = _pitch(_frames(sound.samples[start * HOP: end * HOP + PITCH_WINDOW],
                                 PITCH_WINDOW))[0][: end - start]
    hops = np.arange(start, start + len(correlation))
    inside = (hops >= 1) & (hops + 1 < len(sound.cepstra))
    moves = np.full(len(hops), np.inf)  # spectral distance 20 ms apart, centred on the hop
    moves[inside] = np.linalg.norm(sound.cepstra[hops[inside] + 1]
                                   - sound.cepstra[hops[inside] - 1], axis=1)
    steady = np.flatnonzero((correlation >= VOICED_CORRELATION) & (moves < STEADY_FLUX * sound.flux))
    if len(steady) == 0:
        return None
    breaks = np.flatnonzero(np.diff(steady) > STEADY_GAP_HOPS + 1)
    firsts = steady[np.concatenate([[0], breaks + 1])]
    lasts = steady[np.concatenate([breaks, [len(steady) - 1]])]
    longest = int(np.argmax(lasts - firsts))
    if lasts[longest] + 1 - firsts[longest] < least:
        return None
    return start + int(firsts[longest]), start + int(lasts[longest]) + 1


def _where_a_filler_goes(before: Word | None, after: Word | None) -> bool:
    if after is None:
        return False
    if before is None:
        return True
    said = normalize(before.text), normalize(after.text)
    return (before.text.rstrip().endswith(tuple(PAUSE_MARKS)) and said[0] != said[1]
            and not any(_LAUGH.match(word.replace("-", "")) for word in said))
