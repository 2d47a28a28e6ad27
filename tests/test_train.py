"""Training: splits, synthesis labels, export parity, and a short run that must learn."""

import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the train extra")

from kws.frontend import FrontendParams, LogMel  # noqa: E402
from kws.model import KeywordModel  # noqa: E402
from kws.train import data as data_mod  # noqa: E402
from kws.train.config import SynthConfig, load_train_config  # noqa: E402
from kws.train.data import Utterance  # noqa: E402
from kws.train.export import export_onnx, write_sidecar  # noqa: E402
from kws.train.model import KeywordNet, NetParams  # noqa: E402
from kws.train.synth import SplitData, compose, step_labels  # noqa: E402
from tests.conftest import TEST_DATA  # noqa: E402


def test_no_clip_lands_in_two_splits(data_root):
    """Some recordings exist twice under different names; each content lands in one split only."""
    seen: dict = {}
    found: dict = {}
    duplicates = 0
    for word_dir in sorted(p for p in (data_root / "keywords").iterdir() if p.is_dir()):
        splits = data_mod.load_split_clips(word_dir, 0.15, 0.15, seen=seen)
        n_files = len(data_mod.audio_files(word_dir))
        kept = sum(len(v) for v in splits.values())
        duplicates += n_files - kept
        for split, clips in splits.items():
            for path, audio in clips:
                h = data_mod.content_hash(audio)  # recomputed independently of the loader
                assert found.setdefault(h, split) == split, f"{path} content also in split {found[h]}"
    assert duplicates > 0  # the data really has duplicates, so this test is not vacuous
    bg = data_mod.split_background(data_mod.audio_files(data_root / "background"))
    names = [set(map(str, v)) for v in bg.values()]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    dev_minutes = sum(data_mod.read_audio(f, warn=lambda m: None).size for f in bg["dev"]) / 16000 / 60
    assert dev_minutes >= 60  # the dev false-alarm stream needs an hour


def test_positive_split_is_by_contiguous_number():
    from pathlib import Path
    files = sorted([Path(f"pv-{i}.flac") for i in range(100)], key=data_mod._number_key)
    s = data_mod.split_contiguous(files, 0.15, 0.15)
    assert [f.stem for f in s["train"]] == [f"pv-{i}" for i in range(70)]
    assert [f.stem for f in s["test"]][-1] == "pv-99"


def test_partial_auc_rewards_beating_the_hardest_negatives():
    from kws.train.fit import partial_auc, roc_auc
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    positive = np.array([1, 1, 0, 1, 0, 0], bool)
    assert partial_auc(scores, positive, max_fpr=0.34) == pytest.approx(2 / 3)  # 2 of 3 above the top negative
    assert roc_auc(scores, positive) == pytest.approx(8 / 9)
    assert partial_auc(np.array([0.9, 0.1]), np.array([True, False])) == 1.0


def _tone_word(seconds=0.5):
    t = np.arange(int(seconds * 16000)) / 16000
    word = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pad = np.zeros(800, np.float32)
    return Utterance(np.concatenate([pad, word, pad]), "tone", "tone")


def test_labels_land_right_after_each_positive():
    fe = FrontendParams()
    cfg = SynthConfig(p_positive=1.0, max_positives=2, max_negatives=0, p_reverb=0.0, speed=[1.0, 1.0],
                      snr_db=[40.0, 40.0], level_dbfs=[-20.0, -20.0])
    data = SplitData([_tone_word()], [], [np.zeros(16000 * 10, np.float32) + 1e-4])
    for seed in range(20):
        clip = compose(np.random.default_rng(seed), data, cfg, 4 * 16000)
        assert 1 <= len(clip.positive_ends) <= 2
        frames = LogMel(fe)(clip.audio)
        n_steps = frames.shape[0] // 3
        labels = step_labels(clip.positive_ends, n_steps, 3, fe, 12)
        for end in clip.positive_ends:
            # the tone really ends there: loud before, quiet after
            loud, quiet = np.abs(clip.audio[end - 400:end]).max(), np.abs(clip.audio[end + 50:end + 400]).max()
            assert loud > 10 * quiet
            first = next(j for j in range(n_steps) if j * 3 * fe.hop_samples + fe.window_samples >= end)
            assert labels[first] == 1 and (first == 0 or labels[first - 1] == 0 or len(clip.positive_ends) == 2)
            assert labels[first:first + 12].sum() == min(12, n_steps - first)
        assert labels.sum() <= 12 * len(clip.positive_ends)


def _small_net(tcn_dilations=()):
    torch.manual_seed(0)
    net = KeywordNet(NetParams(conv_channels=32, gru_hidden=24, tcn_dilations=tcn_dilations)).eval()
    with torch.no_grad():  # non-trivial normalisation and batch-norm statistics
        net.feat_mean.uniform_(-8, 0)
        net.feat_std.uniform_(1, 3)
        for norm in [net.norm, *(b.norm for b in net.tcn)]:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2)
    return net


@pytest.fixture(scope="module", params=[(), (1, 2, 4)], ids=["conv-gru", "conv-tcn-gru"])
def exported(request, tmp_path_factory):
    net = _small_net(request.param)
    path = tmp_path_factory.mktemp("m") / "m.onnx"
    export_onnx(net, path)
    write_sidecar(path, "test", FrontendParams(), net.p.stride, 0.5, 3, 1.5, {}, net.state_names())
    return net, path


def _torch_probs(net, feats):
    with torch.no_grad():
        p, *_ = net(torch.from_numpy(feats)[None], *net.initial_state(1))
    return p[0].numpy()


def test_temporal_blocks_stream_in_pieces_as_in_one_pass():
    """The tcn states carry each block's dilated history across calls: pieces of any whole
    number of steps give the one-pass outputs, and a block really sees (kernel-1)*dilation steps back."""
    net = _small_net((1, 2, 4))
    assert net.state_names() == ["conv_state", "tcn0_state", "tcn1_state", "tcn2_state", "gru_state"]
    assert [s.shape for s in net.initial_state(1)[1:4]] == [(1, 32, 2), (1, 32, 4), (1, 32, 8)]
    feats = torch.from_numpy(np.random.default_rng(3).normal(-4, 3, size=(1, 300, 40)).astype(np.float32))
    with torch.no_grad():
        whole, *_ = net(feats, *net.initial_state(1))
        state, parts = net.initial_state(1), []
        for lo, hi in [(0, 3), (3, 39), (39, 42), (42, 300)]:
            p, *state = net(feats[:, lo:hi], *state)
            parts.append(p)
        assert torch.max(torch.abs(torch.cat(parts, dim=1) - whole)) <= 1e-5
        # Changing one input step changes the dilation-4 block only at that step and 4 and 8 steps later (causal, bounded).
        block = net.tcn[2]
        x = torch.zeros(1, 32, 20)
        x2 = x.clone()
        x2[0, :, 5] = 1.0
        y1, _ = block(x, torch.zeros(1, 32, block.history))
        y2, _ = block(x2, torch.zeros(1, 32, block.history))
        changed = np.flatnonzero(((y1 - y2).abs().sum(1)[0] > 1e-6).numpy()).tolist()
        assert changed == [5, 9, 13]


def test_net_params_reject_bad_dilations():
    for bad in ([0], [1.5], [True]):
        with pytest.raises(ValueError, match="tcn_dilations"):
            NetParams(tcn_dilations=bad)
    assert NetParams(tcn_dilations=[1, 2]).to_dict()["tcn_dilations"] == [1, 2]


def test_onnx_equals_torch_on_random_and_real_input(exported, alexa_test_clips):
    net, path = exported
    model = KeywordModel(path)
    rng = np.random.default_rng(0)
    real = LogMel()(alexa_test_clips[0])
    for feats in (rng.normal(-4, 3, size=(300, 40)).astype(np.float32), real[: len(real) // 3 * 3]):
        ort_p, _ = model.run(feats, model.initial_state())
        assert np.max(np.abs(ort_p - _torch_probs(net, feats))) <= 1e-4


def test_exported_model_step_by_step_equals_whole(exported):
    _, path = exported
    model = KeywordModel(path)
    feats = np.random.default_rng(1).normal(-4, 3, size=(600, 40)).astype(np.float32)
    whole, _ = model.run(feats, model.initial_state())
    s = model.stream()
    steps = np.concatenate([s.push(feats[i:i + 3]) for i in range(0, 600, 3)])
    assert np.max(np.abs(steps - whole)) <= 1e-5


@pytest.mark.slow
def test_short_training_run_learns(tmp_path, data_root):
    """About a minute on 2 cores: a small real subset must give a dev AUC well above chance."""
    from kws.train.train import run

    cfg = load_train_config(None, {
        "out": str(tmp_path / "small.onnx"), "work_dir": str(tmp_path / "work"),
        "data.root": str(data_root), "data.max_positives": 120, "data.max_negatives_per_word": 40,
        "data.max_background_files": 2, "synth.train_clips_per_epoch": 1500, "synth.dev_clips": 200,
        "synth.clip_s": 3.0, "net.conv_channels": 48, "net.gru_hidden": 48, "net.gru_layers": 1,
        "fit.epochs": 8, "fit.lr": 0.005, "fit.mine_from_epoch": 4, "eval.other_words": False, "eval.max_background_files": 2, "eval.snr_db": [10.0]})
    result = run(cfg, log=lambda m: None)
    assert result["fit"]["dev_auc"] >= 0.8, result["fit"]["history"]
    model = KeywordModel(tmp_path / "small.onnx")  # sidecar written and accepted by the runtime
    assert model.keyword == "alexa" and (tmp_path / "small-report.md").is_file()
    assert (tmp_path / "small-report-det.png").stat().st_size > 1000


def _tiny_fit_data():
    """A tone 'word' over noise: 32 training clips and 16 dev clips for short fit() runs."""
    from kws.train.dataset import ClipDataset, materialise
    fe = FrontendParams()
    cfg = SynthConfig(clip_s=2.0, p_reverb=0.0)
    data = SplitData([_tone_word()], [], [np.random.default_rng(0).standard_normal(16000 * 20).astype(np.float32) * 0.01])
    return (ClipDataset(data, cfg, fe, 3, 32, seed=1, train=True),
            materialise(ClipDataset(data, cfg, fe, 3, 16, seed=2, train=False)))


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path):
    from kws.train.config import FitConfig
    from kws.train.fit import fit

    train, dev = _tiny_fit_data()
    logs = []
    net = KeywordNet(NetParams(conv_channels=8, gru_hidden=8, gru_layers=1))
    first = fit(net, train, dev, FitConfig(epochs=1, batch_size=16, workers=0, mine_from_epoch=0), tmp_path,
                log=logs.append)
    assert len(first["history"]) == 1 and (tmp_path / "checkpoint.pt").is_file()
    net2 = KeywordNet(NetParams(conv_channels=8, gru_hidden=8, gru_layers=1))
    second = fit(net2, train, dev, FitConfig(epochs=3, batch_size=16, workers=0, mine_from_epoch=0), tmp_path,
                 log=logs.append)
    assert any("resumed from" in m and "after epoch 1" in m for m in logs)
    assert [h["epoch"] for h in second["history"]] == [1, 2, 3]
    assert second["history"][0] == first["history"][0]


def test_average_weights_on_a_hand_made_example():
    from kws.train.fit import average_weights
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(5)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(9)}
    got = average_weights([a, b])
    assert torch.equal(got["w"], torch.tensor([2.0, 4.0])) and int(got["n"]) == 5


def test_fit_average_best_ships_the_mean_of_the_best_epochs(tmp_path):
    """fit.average_best: 2 of 4 epochs, chosen by the dev key (clip pAUC, AUC without streams)."""
    from kws.train.config import FitConfig
    from kws.train.fit import average_weights, fit

    train, dev = _tiny_fit_data()
    net = KeywordNet(NetParams(conv_channels=8, gru_hidden=8, gru_layers=1))
    result = fit(net, train, dev, FitConfig(epochs=4, batch_size=16, workers=0, mine_from_epoch=0, average_best=2),
                 tmp_path, log=lambda m: None)
    ranked = sorted(result["history"], key=lambda h: (h["dev_pauc"], h["dev_auc"]), reverse=True)
    assert len(result["averaged"]["epochs"]) == 2
    assert {ranked[0]["epoch"], ranked[1]["epoch"]} == set(result["averaged"]["epochs"]) or \
        (ranked[1]["dev_pauc"], ranked[1]["dev_auc"]) == (ranked[2]["dev_pauc"], ranked[2]["dev_auc"])  # a tie
    top = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["state"]["top"]
    mean = average_weights([sd for _, _, sd in top])
    assert all(torch.equal(net.state_dict()[k], v) for k, v in mean.items())
    assert not torch.equal(net.state_dict()["head.weight"], top[0][2]["head.weight"])  # not the best alone


def test_step_loss_weights_each_class_on_a_hand_made_example():
    from kws.train.fit import step_loss
    logits = torch.tensor([[0.0, 0.0, 2.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    ln2, softplus2 = float(np.log(2.0)), float(np.log1p(np.exp(2.0)))  # -log(1 - sigmoid(2)) = softplus(2)
    got = step_loss(logits, labels, positive_weight=4.0, negative_weight=1.0)
    assert float(got) == pytest.approx((4.0 * ln2 + ln2 + softplus2) / 3, rel=1e-5)
    heavy = step_loss(logits, labels, positive_weight=4.0, negative_weight=20.0)
    assert float(heavy) == pytest.approx((4.0 * ln2 + 20.0 * ln2 + 20.0 * softplus2) / 3, rel=1e-5)


def test_running_speech_becomes_foreground_negatives_at_talker_level():
    rng = np.random.default_rng(0)
    speech = [(rng.standard_normal(16000 * 30) * 0.01).astype(np.float32)]
    cfg = SynthConfig(p_positive=0.0, max_negatives=2, p_reverb=0.0, p_colour=0.0, p_telephone=0.0,
                      speed=[1.0, 1.0], snr_db=[30.0, 30.0], level_dbfs=[-20.0, -20.0], p_speech_negative=1.0)
    data = SplitData([], [], [np.zeros(16000 * 10, np.float32) + 1e-5], speech=speech)
    spans = 0
    for seed in range(10):
        clip = compose(np.random.default_rng(seed), data, cfg, 4 * 16000)
        for a, b in clip.negative_spans:
            spans += 1
            level = 10 * np.log10(np.mean(clip.audio[a:b].astype(np.float64) ** 2))
            assert abs(level - (-20.0)) < 4.0  # at the talker level, not buried in the background
    assert spans >= 5


def test_telephone_channel_removes_everything_above_4_khz():
    from kws.train.augment import telephone
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    y = telephone(rng, x)
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    assert len(y) == len(x)
    assert spec[freqs > 4300].sum() < 1e-3 * spec[freqs < 3500].sum()


def test_a_config_that_names_a_word_reads_that_words_recordings(tmp_path):
    """Without data.keyword, a config's word picks its own folder, not the default alexa's."""
    from kws.train.config import load_train_config

    cfg = tmp_path / "t.yaml"
    cfg.write_text("word: hey computer\n")
    assert load_train_config(cfg).data.keyword == "hey_computer"
    cfg.write_text("word: hey computer\ndata:\n  keyword: alexa\n")
    assert load_train_config(cfg).data.keyword == "alexa"
    assert load_train_config(None).data.keyword == "alexa"


def _kws_train_config(monkeypatch, *args):
    """The config `kws train ARGS` hands to synthesis (stopped there: nothing is synthesised)."""
    from click.testing import CliRunner

    import kws.train.cli as train_cli
    from kws.cli.main import cli

    seen = {}

    def stop(cfg, log):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(train_cli, "synthesize_positives", stop)
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 0, result.output
    return seen["cfg"]


def test_kws_train_say_reaches_the_synthesisers(monkeypatch):
    """kws train --word onword --say onward: the word names the model and its folder, --say is what is read."""
    cfg = _kws_train_config(monkeypatch, "--word", "onword", "--say", "onward", "--say", "on ward",
                            "--background", str(TEST_DATA / "background"))  # no data folder needed
    assert (cfg.word, cfg.say, cfg.data.keyword, cfg.out) == ("onword", ["onward", "on ward"], "onword",
                                                              "models/onword.onnx")


def test_kws_train_head_turns_the_head_on(monkeypatch):
    """kws train --word hey --head: the run trains the speech-embedding head after the detector."""
    import kws.train.cli as train_cli

    monkeypatch.setattr(train_cli, "check_inputs", lambda cfg, data_root_given=False: None)  # no data folder in CI
    assert _kws_train_config(monkeypatch, "--word", "hey", "--head").head.enabled is True
    assert _kws_train_config(monkeypatch, "--word", "hey").head.enabled is False


def test_feature_reuse_composes_a_share_of_the_clips_and_augments_each_use_anew(monkeypatch):
    from kws.train import dataset as ds_mod
    from kws.train.dataset import ClipDataset
    composed = []
    real = ds_mod.clip_features

    def counting(rng, *a, **k):
        composed.append(1)
        return real(rng, *a, **k)

    monkeypatch.setattr(ds_mod, "clip_features", counting)
    cfg = SynthConfig(clip_s=1.0, p_reverb=0.0, feature_reuse=3)
    data = SplitData([_tone_word(0.3)], [], [np.random.default_rng(0).standard_normal(16000 * 5).astype(np.float32) * 0.01])
    ds = ClipDataset(data, cfg, FrontendParams(), 3, 12, seed=1, train=True)
    items = [ds[i] for i in range(12)]
    assert ds.composed_per_epoch == 4 and len(composed) == 4
    # uses 0, 4, 8 are one clip: same labels, different augmentation
    assert torch.equal(items[0][1], items[4][1]) and torch.equal(items[0][1], items[8][1])
    assert not torch.equal(items[0][0], items[4][0])
    ds.epoch = 1
    ds[0]
    assert len(composed) == 5  # a new epoch composes new clips
    single = ClipDataset(data, SynthConfig(clip_s=1.0, p_reverb=0.0), FrontendParams(), 3, 12, seed=1, train=True)
    assert single.composed_per_epoch == 12


def test_reexport_keeps_the_weights_and_refuses_a_checkpoint_of_another_model(tmp_path):
    import json

    from kws.errors import KwsError
    from kws.train.reexport import reexport
    net = _small_net((1, 2))
    path = tmp_path / "m.onnx"
    export_onnx(net, path)
    write_sidecar(path, "test", FrontendParams(), net.p.stride, 0.5, 3, 1.5, {"net": net.p.to_dict()},
                  net.state_names())
    torch.save({"state": {"best_model": net.state_dict()}}, tmp_path / "same.pt")
    assert reexport(tmp_path / "same.pt", path) <= 1e-5
    assert json.loads(path.with_suffix(".json").read_text())["training"]["net"] == net.p.to_dict()
    KeywordModel(path)  # the new sidecar's hash matches the new file
    other = _small_net((1, 2))
    with torch.no_grad():
        other.head.bias += 3.0
    torch.save({"state": {"best_model": other.state_dict()}}, tmp_path / "other.pt")
    before = path.read_bytes()
    with pytest.raises(KwsError, match="probabilities differ"):
        reexport(tmp_path / "other.pt", path)
    assert path.read_bytes() == before  # nothing replaced


def test_best_epoch_export_takes_the_best_epoch_and_a_dev_threshold(tmp_path, data_root):
    """reexport --best-epoch: the run's best epoch (not its averaged model), a sidecar threshold
    and dev numbers from the config's dev benchmark, a file the runtime accepts."""
    import json

    from kws.train.fit import average_weights
    from kws.train.reexport import export_best_epoch, scores
    best, other = _small_net((1, 2)), _small_net((1, 2))
    like = tmp_path / "avg.onnx"
    averaged = _small_net((1, 2))
    averaged.load_state_dict(average_weights([best.state_dict(), other.state_dict()]))
    export_onnx(averaged, like)
    write_sidecar(like, "alexa", FrontendParams(), best.p.stride, 0.5, 3, 1.5,
                  {"net": best.p.to_dict(), "averaged_epochs": [2, 3]}, best.state_names())
    torch.save({"state": {"best_model": best.state_dict(), "best_epoch": 2,
                          "top": [([0], 2, best.state_dict()), ([0], 1, other.state_dict())]}}, tmp_path / "ck.pt")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  root: {data_root}\n  keyword: alexa\neval:\n  snr_db: [10.0]\n  max_background_files: 1\n")
    out = tmp_path / "best.onnx"
    metrics = export_best_epoch(tmp_path / "ck.pt", like, cfg, out, log=lambda m: None)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["threshold"] == round(metrics["threshold"], 4)
    assert side["training"]["best_epoch"] == 3 and "averaged_epochs" not in side["training"]
    assert side["training"]["dev"]["all"] == metrics["row"]["all"]
    reference = tmp_path / "ref.onnx"
    export_onnx(best, reference)
    write_sidecar(reference, "alexa", FrontendParams(), best.p.stride, 0.5, 3, 1.5, {"net": best.p.to_dict()},
                  best.state_names())
    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    assert np.allclose(scores(out, audio), scores(reference, audio), atol=1e-5)


def test_max_pool_loss_takes_one_term_per_keyword_window_on_a_hand_made_example():
    from kws.errors import KwsError
    from kws.train.fit import max_pool_loss
    # two clips; clip 0 has one window (steps 1-2), clip 1 a window at its first step and one at its end
    logits = torch.tensor([[0.0, 2.0, -1.0, 0.0], [1.0, 0.0, 3.0, -2.0]], requires_grad=True)
    labels = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    sp = lambda x: float(np.log1p(np.exp(x)))  # softplus  # noqa: E731
    negatives = sp(0.0) + sp(0.0) + sp(0.0) + sp(3.0)  # -log(1 - sigmoid(z)) = softplus(z)
    windows = sp(-2.0) + sp(-1.0) + sp(2.0)  # -log(sigmoid(max)) per window: max 2, 1, -2
    got = max_pool_loss(logits, labels, positive_weight=4.0, negative_weight=2.0)
    assert got.item() == pytest.approx((2.0 * negatives + 4.0 * windows) / 8, rel=1e-5)
    got.backward()
    assert logits.grad[0, 2] == 0 and logits.grad[0, 1] < 0  # only the window's peak is pushed up
    # per word along the steps for a (batch, steps, words) tensor: the same as each word alone
    three = max_pool_loss(logits.detach().T[None], labels.T[None], 4.0, 2.0, reduction="sum")
    assert float(three) == pytest.approx(float(got) * 8, rel=1e-5)
    assert float(max_pool_loss(torch.zeros(1, 3), torch.zeros(1, 3), 4.0, 1.0)) == pytest.approx(sp(0.0))
    with pytest.raises(KwsError, match="fit.loss"):
        load_train_config(None, {"fit.loss": "focal"})


def test_training_inputs_are_checked_before_any_synthesis(tmp_path):
    """A missing data folder or --background folder fails at once, naming the flag, not after minutes
    of synthesis (the checks run before synthesize_positives; a real process, as a user meets it)."""
    import subprocess
    import sys

    def train(*args):
        return subprocess.run([sys.executable, "-m", "kws.cli.main", "train", *map(str, args)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=120,
                              env={k: v for k, v in os.environ.items() if k != "KWS_DATA_ROOT"})

    r = train("--word", "hey computer", "--data-root", tmp_path / "nonexistent")
    assert r.returncode == 2 and "synthesising" not in r.stderr
    assert r.stderr.strip().startswith(f"kws: error: data root {tmp_path / 'nonexistent'}: no such folder (give "
                                       f"--data-root DIR or set $KWS_DATA_ROOT")
    assert "kws train --word WORD --background DIR" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    for folder, why in [(tmp_path / "nowhere", "no such folder"), (tmp_path / "empty", "no .wav, .flac or .ogg")]:
        r = train("--word", "hey computer", "--background", TEST_DATA / "background", "--background", folder)
        assert r.returncode == 2 and r.stderr.strip().startswith(f"kws: error: --background {folder}: {why}"), r.stderr
    r = train("--background", TEST_DATA / "background")
    assert r.returncode == 2 and "give --word" in r.stderr
    r = train("--word", "hey computer", "--head", "--background", TEST_DATA / "background")
    assert r.returncode == 2 and "synthesising" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("kws: error: the speech-embedding head (--head, head.enabled) trains against the data")


def test_user_background_splits_deterministically_into_train_and_dev(tmp_path):
    from kws.eval.splits import split_user_background
    from kws.train.data import is_speech, user_background

    files = [tmp_path / f"rec{k:02d}.flac" for k in range(12)]
    split = split_user_background(files)
    assert split["dev"] and split["train"] and split["test"] == []
    assert sorted(split["train"] + split["dev"]) == sorted(files) and split == split_user_background(files)
    more = split_user_background(files + [tmp_path / f"new{k}.flac" for k in range(5)])
    assert set(split["dev"]) <= set(more["dev"]) and set(split["train"]) <= set(more["train"])  # none moved
    assert split_user_background(files[:4]) is None  # too few to hold whole files out
    # Under 5 files: each is split in time, its last fifth for dev; a folder called speech is speech.
    (tmp_path / "bg" / "speech").mkdir(parents=True)
    (tmp_path / "bg" / "speech" / "talk.ogg").write_bytes((TEST_DATA / "background" / "asterisk_en_005_70s.ogg").read_bytes())
    pieces = user_background([tmp_path / "bg"])
    (train_name, train_audio), = pieces["train"]
    (dev_name, dev_audio), = pieces["dev"]
    assert len(train_audio) == 4 * len(dev_audio) or abs(len(train_audio) - 4 * len(dev_audio)) < 5
    assert is_speech(train_name) and is_speech(dev_name) and not is_speech(tmp_path / "noise" / "fan.wav")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="TTS engines not installed (kws/train/tts/install.sh)")
def test_train_a_new_word_on_your_own_background_without_the_data_folder(tmp_path):
    """kws train --word X --background DIR, with $KWS_DATA_ROOT pointing at nothing: a model, a
    sidecar that names the folders, and a dev benchmark built from them."""
    import json
    import subprocess
    import sys

    bg = tmp_path / "mine"
    for kind, name in [("speech", "asterisk_en_005_70s.ogg"), ("noise", "precise_bgnoise_20s.ogg")]:
        (bg / kind).mkdir(parents=True)
        (bg / kind / name).write_bytes((TEST_DATA / "background" / name).read_bytes())
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("tts_positives: 40\ntts_negatives: 10\ntts_confusable_words: 5\ntts_random_words: 10\n"
                   f"tts_cache_dir: {tmp_path / 'tts-cache'}\n"
                   "synth: {train_clips_per_epoch: 96, dev_clips: 32, clip_s: 2.0}\n"
                   "net: {conv_channels: 16, gru_hidden: 16, gru_layers: 1}\n"
                   "fit: {epochs: 1, batch_size: 16, workers: 0, mine_from_epoch: 0}\neval: {snr_db: [10.0]}\n")
    r = subprocess.run([sys.executable, "-m", "kws.cli.main", "train", str(cfg), "--word", "hey computer",
                        "--background", str(bg), "--out", str(tmp_path / "hc.onnx")], capture_output=True, text=True,
                       cwd=tmp_path, timeout=1200, env={**os.environ, "KWS_DATA_ROOT": str(tmp_path / "no-data")})
    assert r.returncode == 0, r.stderr[-3000:]
    # no data folder, so no Kokoro voices: said in one line, and the other engines did the work
    kokoro = [line for line in r.stderr.splitlines() if "kokoro:" in line]
    assert len(kokoro) == 1 and "continuing with the other engines" in kokoro[0], kokoro
    side = json.loads((tmp_path / "hc.json").read_text())
    assert side["keyword"] == "hey computer"
    assert side["training"]["background"] == [str(bg)] and side["training"]["data_root"] is None
    assert KeywordModel(tmp_path / "hc.onnx") is not None and (tmp_path / "hc-report.md").is_file()


def test_dev_selection_scores_each_stream_as_the_runtime_does(exported):
    """Epochs are chosen on what ships: the selector runs every dev stream start to end with the
    state carried (chunks, streams of different lengths side by side), so its probabilities are
    the exported graph's through onnxruntime, step for step."""
    from types import SimpleNamespace

    from kws.filemode import run_audio
    from kws.spotter import Spotter
    from kws.train.select import DevSelector

    net, path = exported
    rng = np.random.default_rng(5)
    audios = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in (16000 * 20, 16000 * 7 + 123)]
    bench = SimpleNamespace(streams=[(f"s{i}", "negatives", SimpleNamespace(audio=a, labels=[], hours=len(a) / 16000 / 3600))
                                     for i, a in enumerate(audios)])
    selector = DevSelector(bench, FrontendParams(), net.p.stride, chunk_steps=50)  # 20 s = 13 chunks
    scored = selector.scored(net)
    for a, s in zip(audios, scored):
        _, (runtime,) = run_audio(Spotter([KeywordModel(path)]), a, tail_pad_s=0)
        assert len(s.probs) == len(runtime) and np.max(np.abs(s.probs - runtime)) < 1e-4


def test_dev_selection_metric_on_hand_made_scores():
    """The number epochs are chosen by: the mean of the miss at the target rate, twice it and
    four times it, here on scores written by hand (one dev hour, four words)."""
    from types import SimpleNamespace

    from kws.train.select import DevSelector

    sr, step_s = 16000, 0.03
    kw_audio, neg_audio = np.zeros(sr * 40, np.float32), np.zeros(sr * 20, np.float32)
    words = [(5.0, 6.0), (15.0, 16.0), (25.0, 26.0), (35.0, 36.0)]
    bench = SimpleNamespace(streams=[
        ("alone", "alone", SimpleNamespace(audio=kw_audio, labels=words, hours=40 / 3600)),
        ("bg", "negatives", SimpleNamespace(audio=neg_audio, labels=[], hours=1.0 - 40 / 3600))])
    sel = DevSelector(bench, FrontendParams(), 3, consecutive=3, chunk_steps=100)

    def scores(n, bursts):  # (time s, peak) -> three steps at that probability
        p = np.zeros(n, np.float32)
        for t, peak in bursts:
            i = int(t / step_s)
            p[i:i + 3] = peak
        return p
    n_kw, n_bg = (len(f) // 3 for _, _, f, _ in sel.streams)
    wanted = [scores(n_kw, [(5.5, 0.99), (15.5, 0.95), (25.5, 0.7)]),  # the fourth word is never heard
              scores(n_bg, [(4.0, 0.97), (12.0, 0.8)])]  # two false alarms in the hour

    class Fake(torch.nn.Module):
        def initial_state(self, batch):
            return (torch.zeros(1),)

        def forward(self, x, at):
            a, n = int(at), x.shape[1] // 3
            out = np.zeros((x.shape[0], n), np.float32)
            for k, w in enumerate(wanted):
                piece = w[a:a + n]
                out[k, :len(piece)] = piece
            return torch.from_numpy(out), at + n

    got = sel.evaluate(Fake(), target=0.5)
    # 0.5 FA/h allows none: above 0.97 only word 1 -> 3 of 4 missed; 1 FA/h: above 0.8 -> 2 of 4;
    # 2 FA/h: 0.7 passes -> 1 of 4.
    assert got["dev_miss_0.5"] == 0.75 and got["dev_miss_1"] == 0.5 and got["dev_miss_2"] == 0.25
    assert got["dev_miss_around"] == 0.5
