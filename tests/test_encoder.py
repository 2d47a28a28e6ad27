"""The multi-word encoder (kws.train.encoder): per-word labels, a short run on real
recordings, and a detector that starts from it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the train extra")

from kws.errors import KwsError  # noqa: E402
from kws.frontend import FrontendParams, LogMel  # noqa: E402
from kws.train.config import SynthConfig, load_train_config  # noqa: E402
from kws.train.data import Utterance  # noqa: E402
from kws.train.model import KeywordNet, NetParams  # noqa: E402
from kws.train.synth import SplitData, clip_example, compose, step_labels  # noqa: E402


def _tone(freq, word, seconds=0.4):
    t = np.arange(int(seconds * 16000)) / 16000
    pad = np.zeros(800, np.float32)
    return Utterance(np.concatenate([pad, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), pad]), word, word)


def test_each_word_is_labelled_in_its_own_channel():
    fe = FrontendParams()
    cfg = SynthConfig(p_positive=1.0, max_positives=2, max_negatives=0, p_reverb=0.0, p_colour=0.0,
                      p_telephone=0.0, speed=[1.0, 1.0], snr_db=[40.0, 40.0], level_dbfs=[-20.0, -20.0])
    data = SplitData([_tone(300, "low"), _tone(2000, "high")], [], [np.zeros(16000 * 10, np.float32) + 1e-4],
                     channels={"low": 0, "high": 1})
    seen = set()
    for seed in range(30):
        clip = compose(np.random.default_rng(seed), data, cfg, 4 * 16000)
        assert len(clip.positive_words) == len(clip.positive_ends) and clip.positive_ends == sorted(clip.positive_ends)
        for end, word in zip(clip.positive_ends, clip.positive_words):
            # the word that ends there is the one named: its tone dominates the last 25 ms
            spec = np.abs(np.fft.rfft(clip.audio[end - 400:end]))
            freqs = np.fft.rfftfreq(400, 1 / 16000)
            assert (freqs[spec.argmax()] > 1000) == (word == "high")
            seen.add(word)
        n_steps = LogMel(fe)(clip.audio).shape[0] // 3
        labels = step_labels(clip.positive_ends, n_steps, 3, fe, 12,
                             [data.channels[w] for w in clip.positive_words], 2)
        single = step_labels(clip.positive_ends, n_steps, 3, fe, 12)
        assert labels.shape == (n_steps, 2)
        np.testing.assert_array_equal(labels.max(axis=1), single)  # the same steps, split by word
        for c, word in enumerate(("low", "high")):
            assert (labels[:, c].sum() > 0) == (word in clip.positive_words)
    assert seen == {"low", "high"}
    feats, labels = clip_example(np.random.default_rng(0), data, cfg, fe, LogMel(fe), 3, train=True)
    assert labels.shape == (feats.shape[0] // 3, 2)


def test_a_multi_output_net_has_one_logit_per_word():
    net = KeywordNet(NetParams(conv_channels=8, gru_hidden=8, gru_layers=1, outputs=3))
    logits, _ = net.logits(torch.zeros(2, 30, 40), *net.initial_state(2))
    assert logits.shape == (2, 10, 3)
    one = KeywordNet(NetParams(conv_channels=8, gru_hidden=8, gru_layers=1))
    assert one.logits(torch.zeros(2, 30, 40), *one.initial_state(2))[0].shape == (2, 10)


def test_a_detector_starts_from_every_encoder_layer_but_the_head(tmp_path):
    from kws.train.warmstart import init_from
    p = NetParams(conv_channels=8, gru_hidden=8, gru_layers=1, tcn_dilations=[1, 2])
    torch.manual_seed(0)
    enc = KeywordNet(NetParams(**{**p.to_dict(), "outputs": 4}))
    with torch.no_grad():
        enc.feat_mean.uniform_(-8, 0)
    path = tmp_path / "enc.pt"
    torch.save({"net": enc.p.to_dict(), "words": list("abcd"), "model": enc.state_dict()}, path)
    det = KeywordNet(p)
    head_before = det.head.weight.clone()
    init_from(det, path, log=lambda m: None)
    for k, v in enc.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(det.state_dict()[k], v), k
    assert torch.equal(det.head.weight, head_before)
    with pytest.raises(KwsError, match="gru_hidden"):
        init_from(KeywordNet(NetParams(conv_channels=8, gru_hidden=16, gru_layers=1, tcn_dilations=[1, 2])),
                  path, log=lambda m: None)
    with pytest.raises(KwsError, match="no such file"):
        init_from(det, tmp_path / "missing.pt", log=lambda m: None)


def test_a_detector_fine_tunes_from_an_earlier_runs_best_epoch(tmp_path):
    """fit.init_from on a training checkpoint.pt: the best epoch's weights, head and feature
    normalisation included, not the last epoch's; a different net is one clear error."""
    from kws.train.warmstart import init_from
    p = NetParams(conv_channels=8, gru_hidden=8, gru_layers=1)
    torch.manual_seed(0)
    best, last = KeywordNet(p), KeywordNet(p)
    with torch.no_grad():
        best.feat_mean.uniform_(-8, 0)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": last.state_dict(), "opt": {}, "sched": {},
                "state": {"epoch": 5, "best_epoch": 2, "best_model": best.state_dict(), "history": []}}, path)
    det = KeywordNet(p)
    init_from(det, path, log=lambda m: None)
    for k, v in best.state_dict().items():
        assert torch.equal(det.state_dict()[k], v), k
    with pytest.raises(KwsError, match="differs from this config's net"):
        init_from(KeywordNet(NetParams(conv_channels=8, gru_hidden=16, gru_layers=1)), path, log=lambda m: None)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(KwsError, match="neither an encoder nor a training checkpoint"):
        init_from(det, tmp_path / "other.pt", log=lambda m: None)


@pytest.mark.slow
def test_a_short_encoder_run_on_real_recordings_learns_and_is_reused(tmp_path, data_root):
    """Two words' real recordings: the clip AUC over (clip, word) pairs rises well above chance
    (0.69 after 6 epochs when written; the full encoder learns slowly too, README), and a
    detector config with fit.init_from loads the result."""
    from kws.train.encoder import train_encoder
    from kws.train.warmstart import init_from
    cfg = load_train_config(None, {
        "out": str(tmp_path / "enc.pt"), "work_dir": str(tmp_path / "work"), "data.root": str(data_root),
        "encoder_words": ["alexa", "jarvis"], "data.negative_words": ["alexa", "jarvis", "not-wake-words"],
        "data.max_negatives_per_word": 100, "data.max_background_files": 2, "synth.train_clips_per_epoch": 1200,
        "synth.dev_clips": 160, "synth.clip_s": 3.0, "net.conv_channels": 32, "net.gru_hidden": 32,
        "net.gru_layers": 1, "fit.epochs": 6, "fit.lr": 0.005, "fit.workers": 0})
    result = train_encoder(cfg, log=lambda m: None)
    aucs = [h["dev_auc"] for h in result["fit"]["history"]]
    assert max(aucs) >= 0.62 and max(aucs) >= aucs[0] + 0.1, aucs
    saved = torch.load(tmp_path / "enc.pt", weights_only=False)
    assert saved["words"] == ["alexa", "jarvis"] and saved["model"]["head.weight"].shape[0] == 2
    det = KeywordNet(NetParams(conv_channels=32, gru_hidden=32, gru_layers=1))
    init_from(det, tmp_path / "enc.pt", log=lambda m: None)
    assert torch.equal(det.conv.weight, saved["model"]["conv.weight"])


def test_encoder_words_must_be_among_the_folders_read(tmp_path, data_root):
    from kws.train.encoder import train_encoder
    cfg = load_train_config(None, {"out": str(tmp_path / "e.pt"), "work_dir": str(tmp_path), "data.root": str(data_root),
                                   "encoder_words": ["alexa"], "data.negative_words": ["jarvis"]})
    with pytest.raises(KwsError, match="negative_words"):
        train_encoder(cfg, log=lambda m: None)


def test_world_conversion_moves_the_pitch_and_keeps_the_length():
    from kws.train.voices import _import_pyworld, convert, world_variants
    try:
        pyworld = _import_pyworld()
    except KwsError:
        pytest.skip("pyworld (the world extra) is not installed")
    t = np.arange(16000) / 16000
    f0 = 140 + 10 * np.sin(2 * np.pi * 3 * t)  # a voiced, gently moving pitch
    x = sum(0.2 / k * np.sin(2 * np.pi * k * np.cumsum(f0) / 16000) for k in range(1, 15)).astype(np.float32)

    def median_f0(y):
        f, _ = pyworld.dio(y.astype(np.float64), 16000, frame_period=5.0)
        return np.median(f[f > 0])

    y = convert(x, 1.5, 1.0)
    assert len(y) == len(x) and np.abs(y).max() <= 0.99
    assert median_f0(y) / median_f0(x) == pytest.approx(1.5, rel=0.08)
    utts = [Utterance(x, "tts/espeak:en/1", "w"), Utterance(x, "keywords/w/1.flac", "w")]
    out = world_variants(utts, 2, [0.8, 1.2], [0.9, 1.1], seed=0)
    assert len(out) == 2 and all(u.source == "tts/espeak:en/1#world" for u in out)  # recordings untouched
    assert len(world_variants(utts, 2, [0.8, 1.2], [0.9, 1.1], seed=0, recordings=True)) == 4
