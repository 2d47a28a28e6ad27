"""One adapter per engine, in the style of the Picovoice wake-word benchmark.

Each adapter turns 16 kHz float32 audio into a score per native frame (``scores``) and
says how its own recommended trigger turns scores into detections (``trigger``), so one
threshold sweep (kws.eval.scoring) serves every engine.  Porcupine only reports
detections, so its "threshold" is its sensitivity and each value is a separate run.
Peers are optional (`pip install 'kws[bench]'`, in a checkout `pip install -e '.[bench]'`) and ship models for a few words only
(alexa here); an engine that cannot be imported, or has no model for the word, is
reported as unavailable and the others still run.
"""

from __future__ import annotations

import numpy as np

from kws.eval.scoring import THRESHOLDS
from kws.trigger import TriggerParams

SR = 16000
REFRACTORY_S = 1.5  # the same for every engine: one utterance, one detection


def _int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


class Engine:
    name = "engine"
    frame_samples = 480
    sweep_by_rerun = False  # True: each threshold needs its own pass (Porcupine)
    any_length = False  # True: process() takes a block of any length (the microphone's 100 ms)
    thresholds: np.ndarray = np.linspace(0.05, 0.99, 60)

    def reset(self) -> None: ...

    def process(self, frame: np.ndarray) -> float:
        """Score of one native frame (float32 samples, frame_samples long)."""
        raise NotImplementedError

    def scores(self, audio: np.ndarray, threshold: float | None = None) -> np.ndarray:
        self.reset()
        n = len(audio) // self.frame_samples
        return np.array([self.process(audio[i * self.frame_samples:(i + 1) * self.frame_samples])
                         for i in range(n)], dtype=np.float32)

    @property
    def frame_s(self) -> float:
        return self.frame_samples / SR

    def trigger(self, threshold: float) -> TriggerParams:
        return TriggerParams(threshold=threshold, consecutive=1,
                             refractory_steps=int(round(REFRACTORY_S / self.frame_s)))

    def frame_times(self, n: int) -> np.ndarray:
        return (np.arange(n) + 1) * self.frame_s


class KwsEngine(Engine):
    """Ours: a model (a loaded KeywordModel, a path or a shipped name) through the runtime
    Spotter and file mode, with its sidecar's trigger."""

    name = "kws (ours)"
    any_length = True  # the front end and the model take any length: one call per block
    thresholds = THRESHOLDS

    def __init__(self, model="alexa", name: str | None = None, stage: str | None = None, **trigger_kw):
        from kws.model import KeywordModel
        from kws.spotter import Spotter

        self.trigger_kw = trigger_kw  # consecutive / mode / window instead of the sidecar's
        self.model = model if isinstance(model, KeywordModel) else KeywordModel(model, stage=stage)
        if name:
            self.name = name
        self.spotter = Spotter([self.model])
        self.frame_samples = self.model.clock.step_samples  # the stage's own step (80 ms for the head)

    def reset(self):
        self.spotter.reset()

    def process(self, frame):
        _, (p,) = self.spotter.process_scores(frame)
        return float(p[-1]) if p.size else 0.0

    def scores(self, audio, threshold=None):
        from kws.filemode import run_audio
        _, (p,) = run_audio(self.spotter, audio, tail_pad_s=0)
        return p

    def trigger(self, threshold):
        from kws.spotter import trigger_params_for
        return trigger_params_for(self.model, threshold=threshold, refractory_s=REFRACTORY_S, **self.trigger_kw)

    def frame_times(self, n):
        return self.model.step_end_time(np.arange(n))  # the model's own step clock, all steps at once


def _only_alexa(engine: str, word: str | None) -> None:
    if word not in (None, "alexa"):
        raise LookupError(f"{engine} ships no model for {word!r}")


class OpenWakeWordEngine(Engine):
    """openWakeWord 0.5.1, its bundled alexa ONNX model on onnxruntime (nothing downloaded).
    Its recommended trigger: score >= 0.5 on one 80 ms frame."""

    name = "openWakeWord"
    frame_samples = 1280

    def __init__(self, word: str | None = None):
        _only_alexa(self.name, word)
        import openwakeword
        from openwakeword.model import Model

        path = next(p for p in openwakeword.get_pretrained_model_paths("onnx") if "alexa" in p)
        self.model = Model(wakeword_models=[path], inference_framework="onnx")
        self.key = next(iter(self.model.models))

    def reset(self):
        self.model.reset()

    def process(self, frame):
        return float(self.model.predict(_int16(frame))[self.key])


class MicroWakeWordEngine(Engine):
    """pymicro-wakeword's bundled alexa model: mean of the last 5 probabilities > 0.9."""

    name = "microWakeWord"
    frame_samples = 480  # three 10 ms feature frames make one inference
    any_length = True  # its streaming features take any number of bytes

    def __init__(self, word: str | None = None):
        _only_alexa(self.name, word)
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

        self._mww, self._features = MicroWakeWord, MicroWakeWordFeatures
        self.model = MicroWakeWord.from_builtin(Model.ALEXA)
        self.features = MicroWakeWordFeatures()
        self.last = 0.0

    def reset(self):
        self.model.reset()
        self.features = self._features()
        self.last = 0.0

    def process(self, frame):
        for feats in self.features.process_streaming(_int16(frame).tobytes()):
            p = self.model.process_streaming_prob(feats)
            # It returns 0.0 while it gathers a stride of features; only a call that ran the
            # model (and so emptied its feature list) carries a real probability.
            if p is not None and not self.model._features:
                self.last = float(p)
        return self.last


class PorcupineEngine(Engine):
    """Porcupine 1.9.5 (offline, no access key), keyword alexa, swept over sensitivity."""

    name = "Porcupine"
    sweep_by_rerun = True
    thresholds = np.array([0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0])

    def __init__(self, word: str | None = None):
        _only_alexa(self.name, word)
        import pvporcupine

        self._pv = pvporcupine
        self.sensitivity = 0.5
        self.handle = pvporcupine.create(keywords=["alexa"], sensitivities=[self.sensitivity])
        self.frame_samples = self.handle.frame_length

    def reset(self):
        pass

    def set_sensitivity(self, s: float):
        self.handle.delete()
        self.sensitivity = s
        self.handle = self._pv.create(keywords=["alexa"], sensitivities=[s])

    def process(self, frame):
        return 1.0 if self.handle.process(_int16(frame)) >= 0 else 0.0

    def scores(self, audio, threshold=None):
        if threshold is not None and threshold != self.sensitivity:
            self.set_sensitivity(threshold)
        return super().scores(audio)

    def trigger(self, threshold):
        return TriggerParams(threshold=0.5, consecutive=1, refractory_steps=int(round(REFRACTORY_S / self.frame_s)))


ENGINES = {"kws": KwsEngine, "openwakeword": OpenWakeWordEngine, "microwakeword": MicroWakeWordEngine,
           "porcupine": PorcupineEngine}


def load_engines(names, word: str | None = None, model=None) -> tuple[list[Engine], dict[str, str]]:
    """Instantiate what installs here for ``word``; return the engines and, per missing one, why.
    ``model`` (a path, shipped name or KeywordModel) is ours; by default the shipped model of the word."""
    engines, missing = [], {}
    for name in names:
        try:
            if name not in ENGINES:
                raise LookupError(f"unknown engine (known: {', '.join(ENGINES)})")
            if name == "kws":
                engines.append(KwsEngine(model or word or "alexa"))
            else:
                engines.append(ENGINES[name](word))
        except Exception as exc:  # ImportError, a native library that will not load, no model
            missing[name] = f"{type(exc).__name__}: {exc}"
    return engines, missing
