"""Composing training clips, as in the classic trigger-word recipe.

A clip is a stretch of real background with 0..N keyword utterances and 0..M other
words laid on it at random, non-overlapping positions.  The label is 1 for a fixed
number of output steps (``label_steps``) starting at the step that first sees the end
of each keyword, and 0 elsewhere: the detector learns to say "that was the word" just
after it was said, which is what a streaming trigger needs, and a word cut short
("alex…") is never labelled positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kws.frontend import FrontendParams, LogMel
from kws.model.clock import StepClock
from kws.train import augment as aug
from kws.train.data import Utterance

PAD = 800  # samples of context that load_utterance keeps either side of the word


@dataclass
class SplitData:
    positives: list[Utterance]
    negatives: list[Utterance]
    background: list[np.ndarray]
    hard_spots: list[tuple[int, int]] = field(default_factory=list)  # (background index, sample)
    speech: list[np.ndarray] = field(default_factory=list)  # running speech for foreground negatives
    # The output channel of each word, for a network with one output per word (the
    # multi-word encoder, kws.train.encoder); empty: one output, every positive is the keyword.
    channels: dict[str, int] = field(default_factory=dict)


@dataclass
class Clip:
    audio: np.ndarray
    positive_ends: list[int]  # sample index where each inserted keyword ends
    negative_spans: list[tuple[int, int]]
    positive_words: list[str] = field(default_factory=list)  # the word of each end, in the same order


def _background(rng, backgrounds: list[np.ndarray], n: int, hard_spots=(), p_hard: float = 0.0) -> np.ndarray:
    if hard_spots and rng.random() < p_hard:
        b, spot = hard_spots[int(rng.integers(len(hard_spots)))]
        src = backgrounds[b]
        start = int(np.clip(spot - rng.uniform(0.3, 0.9) * n, 0, max(0, len(src) - n)))
        if len(src) > n:
            return src[start:start + n].astype(np.float32)
    src = backgrounds[int(rng.integers(len(backgrounds)))]
    if len(src) <= n:
        return np.resize(src, n).astype(np.float32)
    start = int(rng.integers(0, len(src) - n))
    return src[start:start + n].astype(np.float32)


def _foreground(rng, utt: Utterance, cfg, level_dbfs: float) -> tuple[np.ndarray, int]:
    """Augmented utterance and the sample where its word ends within it."""
    speed = rng.uniform(*cfg.speed)
    x = aug.change_speed(utt.audio, speed)
    word_end = len(x) - int(PAD / speed)
    if rng.random() < cfg.p_reverb:
        x = aug.reverberate(x, aug.room_impulse_response(rng, rng.uniform(*cfg.rt60_s)))
    if rng.random() < cfg.p_colour:
        x = aug.colour(rng, x)
    return aug.set_level(x, level_dbfs + rng.uniform(-3, 3)), word_end


def _negative(rng, data: SplitData, cfg) -> Utterance:
    """A recorded or synthetic other word, or a stretch of real running speech of another
    speaker: the same talker levels and positions as the keyword, so that "a word, loud,
    on its own" is never what tells the keyword apart."""
    if data.speech and (not data.negatives or rng.random() < cfg.p_speech_negative):
        src = data.speech[int(rng.integers(len(data.speech)))]
        n = int(rng.uniform(*cfg.speech_negative_s) * 16000)
        start = int(rng.integers(0, max(1, len(src) - n)))
        return Utterance(src[start:start + n], "speech", "speech")
    return data.negatives[int(rng.integers(len(data.negatives)))]


def compose(rng: np.random.Generator, data: SplitData, cfg, n_samples: int) -> Clip:
    n_pos = 0
    if data.positives and rng.random() < cfg.p_positive:
        n_pos = 1 if rng.random() < 0.75 else int(rng.integers(1, cfg.max_positives + 1))
    n_neg = int(rng.integers(0, cfg.max_negatives + 1)) if data.negatives or data.speech else 0
    talker_db = rng.uniform(*cfg.level_dbfs)
    events = [(True, data.positives[int(rng.integers(len(data.positives)))]) for _ in range(n_pos)]
    events += [(False, _negative(rng, data, cfg)) for _ in range(n_neg)]
    order = rng.permutation(len(events))
    out = np.zeros(n_samples, dtype=np.float32)
    taken: list[tuple[int, int]] = []
    ends, spans = [], []  # ends: (sample, word)
    for k in order:
        is_pos, utt = events[k]
        x, word_end = _foreground(rng, utt, cfg, talker_db)
        if len(x) >= n_samples:
            continue
        for _ in range(30):  # rejection sampling for a free slot
            start = int(rng.integers(0, n_samples - len(x)))
            if all(start + len(x) <= a or start >= b for a, b in taken):
                break
        else:
            continue
        taken.append((start, start + len(x)))
        out[start:start + len(x)] += x
        (ends.append((start + word_end, utt.word)) if is_pos else spans.append((start, start + len(x))))
    bg = _background(rng, data.background, n_samples, data.hard_spots, cfg.p_hard_background)
    if rng.random() < 0.25:  # sometimes two kinds of background at once (music + speech)
        bg = bg + _background(rng, data.background, n_samples) * aug.db_to_gain(rng.uniform(-10, 0))
    bg_db = (talker_db - rng.uniform(*cfg.snr_db)) if taken else rng.uniform(cfg.level_dbfs[0] - 10, cfg.level_dbfs[1])
    if aug.rms_dbfs(bg) > -100:
        out += aug.set_level(bg, bg_db)
    # A microphone never delivers digital silence; neither should training audio.
    out += rng.standard_normal(n_samples).astype(np.float32) * aug.db_to_gain(rng.uniform(-90, -65))
    if rng.random() < cfg.p_telephone:  # a telephone or cheap microphone: nothing above 4 kHz
        out = aug.telephone(rng, out)
    gain = 0.99 / max(1.0, float(np.abs(out).max()) / 0.99)
    ends.sort()
    return Clip((out * gain).astype(np.float32), [e for e, _ in ends], spans, [w for _, w in ends])


def step_labels(ends: list[int], n_steps: int, frames_per_step: int, fe: FrontendParams, label_steps: int,
                channels: list[int] | None = None, n_channels: int = 1) -> np.ndarray:
    """1 for ``label_steps`` output steps starting at the first step that has seen each end:
    shape (steps,), or (steps, n_channels) with each end's 1s in its own channel."""
    labels = np.zeros((n_steps, n_channels) if channels is not None else n_steps, dtype=np.float32)
    clock = StepClock(fe, frames_per_step)
    for k, end in enumerate(ends):
        first = clock.first_step_after(end)
        if channels is None:
            labels[first:first + label_steps] = 1.0
        else:
            labels[first:first + label_steps, channels[k]] = 1.0
    return labels


def clip_features(rng, data: SplitData, cfg, fe: FrontendParams, logmel: LogMel,
                  frames_per_step: int) -> tuple[np.ndarray, np.ndarray]:
    """A composed clip's log-mel features (a whole number of steps) and step labels."""
    clip = compose(rng, data, cfg, int(cfg.clip_s * fe.sample_rate))
    feats = logmel(clip.audio)
    feats = feats[: feats.shape[0] - feats.shape[0] % frames_per_step]
    channels = [data.channels[w] for w in clip.positive_words] if data.channels else None
    labels = step_labels(clip.positive_ends, feats.shape[0] // frames_per_step, frames_per_step, fe, cfg.label_steps,
                         channels, max(len(data.channels), 1))
    return feats.astype(np.float32), labels


def augment_features(rng, feats: np.ndarray, cfg) -> np.ndarray:
    """The feature-domain augmentation of a training example: mel warp and SpecAugment masks."""
    feats = aug.warp_mel(feats, rng.uniform(*cfg.warp))
    return aug.spec_augment(rng, feats, cfg.spec_time_masks, cfg.spec_freq_masks).astype(np.float32)


def clip_example(rng, data: SplitData, cfg, fe: FrontendParams, logmel: LogMel, frames_per_step: int,
                 train: bool) -> tuple[np.ndarray, np.ndarray]:
    feats, labels = clip_features(rng, data, cfg, fe, logmel, frames_per_step)
    return (augment_features(rng, feats, cfg) if train else feats), labels
