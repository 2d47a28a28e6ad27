"""Training configuration: one YAML file, checked key by key (see configs/train-alexa.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kws.configschema import load_dataclass, read_yaml
from kws.train.head.fit import HeadFitConfig
from kws.train.model import NetParams


@dataclass
class DataConfig:
    root: str = "../shared/data"  # relative to the working directory; $KWS_DATA_ROOT overrides
    keyword: str = "alexa"  # folder under keywords/ with the positives (optional for text-only)
    # Folders under keywords/ used as hard negatives; "*" means every folder but the keyword.
    negative_words: list = field(default_factory=lambda: ["*"])
    # False: recordings of the keyword are used only to evaluate (the text-only experiment)
    train_on_recordings: bool = True
    dev_fraction: float = 0.15
    test_fraction: float = 0.15
    max_positives: int = 0  # 0 = all; small numbers make quick test runs
    max_negatives_per_word: int = 0
    max_background_files: int = 0
    # Your own folders of speech, music and noise (kws train --background): they replace the data
    # root, which is then not read at all (positives and negatives are synthesised). Files under a
    # folder called "speech" are running speech; the rest music and noise.
    background: list = field(default_factory=list)


@dataclass
class SynthConfig:
    clip_s: float = 4.0
    train_clips_per_epoch: int = 3000
    dev_clips: int = 600
    p_positive: float = 0.55  # chance that a clip holds at least one positive
    max_positives: int = 2
    max_negatives: int = 3
    # Share of negative events that are real running speech (see kws.train.synth._negative)
    # rather than recorded/synthetic single words; 0 turns foreground speech off.
    p_speech_negative: float = 0.5
    speech_negative_s: list = field(default_factory=lambda: [0.4, 2.5])
    real_share: float = 0.5  # share of positives that are real recordings when synthetic ones are mixed in
    p_telephone: float = 0.15  # share of clips sent through a narrow-band (8 kHz) channel
    label_steps: int = 12  # output steps labelled 1 right after a positive ends (12 x 30 ms)
    snr_db: list = field(default_factory=lambda: [-5.0, 20.0])
    # Talker level (speech RMS).  Real recordings go down to about -55 dBFS (a quiet
    # microphone), so the range must too, or a quiet speaker is never heard.
    level_dbfs: list = field(default_factory=lambda: [-62.0, -10.0])
    p_reverb: float = 0.5
    p_colour: float = 0.3  # random microphone/channel filtering
    p_hard_background: float = 0.35  # share of backgrounds centred on mined hard spots
    rt60_s: list = field(default_factory=lambda: [0.1, 0.8])
    speed: list = field(default_factory=lambda: [0.85, 1.15])
    warp: list = field(default_factory=lambda: [0.92, 1.08])  # mel-axis warp (pitch/formant)
    # WORLD speaker conversion (kws.train.voices): converted copies of each synthetic
    # training positive, pitch and formant scales drawn log-uniformly from these ranges.
    world_variants: int = 0
    world_f0: list = field(default_factory=lambda: [0.7, 1.4])
    world_formant: list = field(default_factory=lambda: [0.87, 1.15])
    world_recordings: bool = False  # convert the real training recordings as well
    # Cached features: each composed training clip is used this many times per epoch, each
    # time with its own mel warp and masks (kws.train.dataset); 1 = every example is new.
    feature_reuse: int = 1
    spec_time_masks: int = 2
    spec_freq_masks: int = 2


@dataclass
class FitConfig:
    epochs: int = 50
    patience: int = 10
    batch_size: int = 64
    lr: float = 0.003
    weight_decay: float = 0.0001
    positive_weight: float = 4.0  # loss weight of label-1 steps
    negative_weight: float = 1.0  # loss weight of label-0 steps
    # "step": BCE at every step (label-1 steps weighted positive_weight); "max_pool": one term
    # per keyword window, on its highest logit (kws.train.fit.max_pool_loss)
    loss: str = "step"
    select_on_streams: bool = True  # pick the epoch by miss rate around the target FA rate on dev streams
    target_fa_per_hour: float = 0.5  # false alarms per hour the epoch is chosen for
    seed: int = 1234
    threads: int = 2
    workers: int = 1
    # > 1: the model is the mean of the weights of this many best epochs (by the dev metric)
    # instead of the single best epoch, which 100 dev trials pick partly by chance
    average_best: int = 1
    mine_from_epoch: int = 3  # hard-negative mining starts after this epoch (0: never)
    mine_every: int = 2
    # A network to start from (kws.train.warmstart): a multi-word encoder (encoder_words,
    # kws.train.encoder; every layer but the output head, with its feature normalisation), or an
    # earlier run's checkpoint.pt (its best epoch, every layer: a fine-tune).
    init_from: str = ""


@dataclass
class EvalConfig:
    """The dev benchmark (kws.eval.benchmark) that picks the epoch and the threshold."""
    snr_db: list = field(default_factory=lambda: [20.0, 10.0, 0.0])  # word-alone streams
    other_words: bool = True  # other words' recordings and sentences as negatives
    max_background_files: int = 0  # 0: all dev background (a cap only for quick test runs)
    target_fa_per_hour: float = 0.5
    # A word trained from text alone (data.train_on_recordings false) never hears the train split
    # of its recordings: its dev benchmark takes them as more trials said alone (dev's 25 speakers
    # become about 150), while the negatives and the sentences stay dev's own.
    train_recordings_in_dev: bool = True
    # Dev's negative streams again through these augmentations of the negative cache (reverb_noise,
    # telephone, speed, music): more dev hours, in rooms and channels the plain dev lacks. [] = off.
    augmented_negatives: list = field(default_factory=list)


@dataclass
class HeadConfig:
    """The speech-embedding head (kws.train.head): trained after the detector when ``enabled``,
    or added to an existing model with ``python -m kws.train.head CONFIG``."""
    enabled: bool = False
    cache_dir: str = "~/.cache/kws/embeddings"  # the negative embeddings, shared by every word
    augmentations: list = field(default_factory=lambda: ["none", "reverb_noise", "telephone"])
    positive_copies: int = 8  # augmented copies of each training recording of the word
    synthetic_copies: int = 2  # ... and of each synthetic clip (there are ten times more of them)
    dev_copies: int = 3
    # The word's synthesised confusables ("voyag", "engine") among the head's negatives, train and
    # dev.  Off: with them, voyager's three Kokoro heads read 8.8-12.8 % on dev, without 7.3-8.4 %,
    # and think_engine's one seed 28.1 % against 13.7-18.4 % (the end of a phrase sounds exactly
    # like the positive's last half second); no shipped head has them (docs/second-stage.md).
    synthetic_negatives: bool = False
    fit: HeadFitConfig = field(default_factory=HeadFitConfig)
    # Stages measured on the dev benchmark; the best by mean miss over 0.1-2 FA/h ships.
    modes: list = field(default_factory=lambda: ["head", "cascade"])
    first_thresholds: list = field(default_factory=lambda: [0.5, 0.8, 0.95])  # cascade: detector thresholds tried
    rules: list = field(default_factory=lambda: ["head", "mean"])


@dataclass
class KokoroConfig:
    """Kokoro-82M neural voices in text-only training (kws.train.tts.kokoro)."""
    share: float = 0.5  # share of all synthetic clips (positives and negatives) Kokoro reads; 0 = off
    voices_dir: str = ""  # the voices' NAME.npy files; "" = <data root>/tts/kokoro
    require: bool = False  # true: missing model package or voices fail the run instead of being skipped
    blend_share: float = 0.5  # share of English Kokoro clips read by a new speaker (2-3 voices mixed); 0 = off
    accented_share: float = 0.1  # share of Kokoro clips read by a non-English voice (accented); 0 = off
    speed: list = field(default_factory=lambda: [0.8, 1.25])


@dataclass
class TrainConfig:
    out: str = "models/alexa.onnx"
    work_dir: str = "runs/alexa"
    # Text-only training (see kws.train.tts): synthesise positives of this phrase.
    word: str = ""
    # How the word is said, where its spelling misleads the synthesisers ("onward" for the brand
    # "Onword"): positives are synthesised from these texts in turn, confusables from the first.
    # Empty: the word itself.  The model is still named after ``word``.
    say: list = field(default_factory=list)
    tts_positives: int = 1500
    tts_negatives: int = 800
    tts_confusable_words: int = 40
    tts_random_words: int = 1500  # everyday words/phrases in synthetic voices, as negatives
    tts_noncommercial: bool = False  # MBROLA voices and RHVoice evgeniy-eng/lyubov: opt-in
    # Draws engine, voice and prosody of each synthetic clip; apart from fit.seed, so that another
    # training seed finds the same clips in the cache.
    tts_seed: int = 1234
    # Drop synthetic positives in which pocketsphinx's keyword spotter does not hear the spoken
    # form (kws.train.tts.screen; the screen extra); its threshold per phone of the phrase.
    tts_screen: bool = False
    tts_screen_log10_per_phone: float = -5.0
    tts_cache_dir: str = "~/.cache/kws/tts"  # one file per synthesised clip, shared by all runs; "" = none
    kokoro: KokoroConfig = field(default_factory=KokoroConfig)
    # Train a multi-word encoder (kws.train.encoder) on these words' recordings instead of a
    # detector; ``out`` is then the encoder's .pt file.
    encoder_words: list = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    net: NetParams = field(default_factory=NetParams)
    fit: FitConfig = field(default_factory=FitConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    base_dir: Path = field(default=Path("."), repr=False, metadata={"internal": True})

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def slug(word: str) -> str:
    """The folder name of a word's recordings: "hey computer" -> hey_computer."""
    return re.sub(r"[^a-z0-9]+", "_", word.lower()).strip("_") or "word"


def load_train_config(path: str | Path | None, overrides: dict | None = None) -> TrainConfig:
    where = f"training config {path}" if path is not None else "training options"
    data = read_yaml(path, where, overrides)
    if isinstance(data, dict) and isinstance(data.get("word"), str) and "keyword" not in (data.get("data") or {}):
        # A config that names a word means that word's recordings (if any), not the default keyword's.
        data.setdefault("data", {})
        if isinstance(data["data"], dict):
            data["data"]["keyword"] = slug(data["word"])
    cfg = load_dataclass(TrainConfig, data, where)
    if not all(isinstance(t, str) and t.strip() for t in cfg.say):
        from kws.errors import KwsError
        raise KwsError(f"{where}: say must be a list of non-empty texts, got {cfg.say!r}")
    from kws.train.fit import LOSSES
    if cfg.fit.loss not in LOSSES:
        from kws.errors import KwsError
        raise KwsError(f"{where}: fit.loss must be one of {', '.join(map(repr, LOSSES))}, got {cfg.fit.loss!r}")
    _check_kokoro(cfg.kokoro, where)
    cfg.base_dir = Path.cwd()
    return cfg


def _check_kokoro(k: KokoroConfig, where: str) -> None:
    from kws.errors import KwsError
    for key in ("share", "blend_share", "accented_share"):
        if not 0 <= getattr(k, key) <= 1:
            raise KwsError(f"{where}: kokoro.{key} must be between 0 and 1, got {getattr(k, key)!r}")
    sp = k.speed
    if not (len(sp) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in sp)
            and 0.5 <= sp[0] <= sp[1] <= 2.0):
        raise KwsError(f"{where}: kokoro.speed must be [low, high] with 0.5 <= low <= high <= 2, got {sp!r}")
