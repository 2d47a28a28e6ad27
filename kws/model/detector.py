"""onnxruntime wrapper: (features, state) -> (per-step probabilities, new state).

``KeywordModel`` is the loaded, shareable graph; ``ModelStream`` is one audio stream's
position in it (the recurrent state and the frames not yet making a whole step).
File mode feeds a whole file in one call, the daemon a hop at a time: both give the
same probabilities because the state is carried through the graph's own inputs/outputs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from kws.errors import KwsError
from kws.frontend import FrontendParams
from kws.model.clock import StepClock
from kws.model.sidecar import ModelMeta, sidecar_path


def shipped_models_dir() -> Path:
    return Path(str(resources.files("kws.shipped_models")))


BUILTIN = "builtin:"


def shipped_names() -> list[str]:
    """Models are the .onnx files with a sidecar (a head, ``alexa.head.onnx``, has none)."""
    return sorted(p.stem for p in shipped_models_dir().glob("*.onnx") if sidecar_path(p).is_file())


def is_shipped_name(ref: str | Path) -> bool:
    """``builtin:alexa`` or a bare ``alexa``: no folder part and no suffix."""
    ref = str(ref)
    return ref.startswith(BUILTIN) or ("/" not in ref and Path(ref).suffix == "" and ref not in ("", ".", ".."))


def resolve_model_path(ref: str | Path) -> Path:
    """The .onnx file for a model reference.

    ``builtin:alexa`` is always the shipped model.  A bare name (``alexa``: no folder part,
    no suffix) is the shipped model of that name, so that a file or folder called ``alexa``
    in the working directory cannot hide it; any other reference is a path to an .onnx file.
    """
    text = str(ref)
    if is_shipped_name(text):
        name = text.removeprefix(BUILTIN)
        shipped = shipped_models_dir() / f"{name}.onnx"
        if shipped.is_file():
            return shipped
        hint = "" if text.startswith(BUILTIN) else f"; for a file, give its path (./{name}.onnx)"
        raise KwsError(f"model {text!r}: no shipped model of that name (shipped: {', '.join(shipped_names())}){hint}")
    path = Path(ref)
    if path.suffix == ".json":
        raise KwsError(f"model {path}: that is a sidecar; pass the .onnx file beside it ({path.with_suffix('.onnx')})")
    if path.is_dir():
        raise KwsError(f"model {path}: is a folder, not an .onnx file")
    if not path.is_file():
        raise KwsError(f"model {path}: no such file")
    return path


def onnx_session(path: Path, threads: int = 1, what: str = "it"):
    """The one way kws opens a graph: CPU, ``threads`` threads (one by default: a Pi has 4 small
    cores, and a wake-word engine shares them), quiet, and a one-line KwsError if it cannot."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise KwsError(f"{path}: onnxruntime cannot load {what} ({str(exc).splitlines()[0]})") from None


class KeywordModel:
    """A keyword's detector graph and, when its sidecar has one, its speech-embedding head.

    ``stage`` picks what the model's scores are (kws.model.stages): ``gru`` (the detector),
    ``head`` or ``cascade``; None is the sidecar's choice (``gru`` without a second stage).
    """

    def __init__(self, ref: str | Path, frontend: FrontendParams | None = None, threads: int = 1,
                 stage: str | None = None, first_threshold: float | None = None):
        from kws.model.stages import STAGES, SecondStage

        self.path = resolve_model_path(ref)
        self.frontend = frontend or FrontendParams()
        self.meta = ModelMeta.load(self.path, self.frontend)
        self.second_stage = SecondStage.load(self.meta.second_stage, self.path) if self.meta.second_stage else None
        if stage is not None and stage not in STAGES:
            raise KwsError(f"stage {stage!r}: must be one of {', '.join(STAGES)}")
        if stage in ("head", "cascade") and self.second_stage is None:
            raise KwsError(f"{self.path}: has no second stage (its sidecar names no head); use stage 'gru'")
        self.stage = stage or (self.second_stage.mode if self.second_stage else "gru")
        if first_threshold is not None and self.second_stage is not None:  # a config's models[].first_threshold
            from dataclasses import replace
            self.second_stage = replace(self.second_stage, first_threshold=first_threshold)
        self.head = None
        if self.second_stage and self.stage != "gru":
            from kws.embedding.head import EmbeddingHead
            self.head = EmbeddingHead(self.path.parent / self.second_stage.head, threads)
        # The only conversions between output steps and audio samples/seconds: the detector's
        # steps, and the steps of the scores this model gives (the head's in stage "head").
        self.detector_clock = StepClock(self.frontend, self.meta.frames_per_step)
        if self.stage == "head":
            from kws.embedding.speech import EMBEDDING_SPAN, EMBEDDING_STEP
            self.clock = StepClock(self.frontend, EMBEDDING_STEP // self.frontend.hop_samples, EMBEDDING_SPAN)
        else:
            self.clock = self.detector_clock
        self._session = onnx_session(self.path, threads)
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        wanted_in = {self.meta.features_input, *self.meta.state}
        wanted_out = {self.meta.probabilities_output, *self.meta.state.values()}
        if not wanted_in <= set(inputs) or not wanted_out <= outputs:
            raise KwsError(f"{self.path}: graph inputs/outputs do not match its sidecar")
        self._state_shapes = {}
        for name in self.meta.state:
            shape = inputs[name].shape
            if not all(isinstance(d, int) for d in shape):
                raise KwsError(f"{self.path}: state input {name} must have a fixed shape")
            self._state_shapes[name] = tuple(shape)
        self._output_names = [self.meta.probabilities_output, *self.meta.state.values()]
        self._check_frames_per_step()

    def _check_frames_per_step(self, steps: int = 4) -> None:
        """A wrong frames_per_step would shift every detection time: run the graph and count its steps."""
        fps = self.frames_per_step
        feats = np.zeros((steps * fps, self.frontend.n_mels), dtype=np.float32)
        try:
            got = self.run(feats, self.initial_state())[0].size
        except Exception as exc:  # onnxruntime's errors are untyped
            raise KwsError(f"{sidecar_path(self.path)}: sidecar: key 'frames_per_step' is {fps}, but the graph "
                           f"cannot run on {steps * fps} frames ({str(exc).splitlines()[0]})") from None
        if got != steps:
            raise KwsError(f"{sidecar_path(self.path)}: sidecar: key 'frames_per_step' is {fps}, but the graph "
                           f"makes {got} steps from {steps * fps} frames ({steps} expected)")

    @property
    def keyword(self) -> str:
        return self.meta.keyword

    @property
    def frames_per_step(self) -> int:
        return self.meta.frames_per_step

    @property
    def threshold(self) -> float:
        """The sidecar's threshold for this model's scores (the stage's)."""
        return self.meta.threshold if self.stage == "gru" else self.second_stage.threshold

    @property
    def consecutive(self) -> int:
        """Steps in a row the trigger wants: a cascade step already holds the detector's run."""
        return {"gru": self.meta.consecutive, "cascade": 1,
                "head": self.second_stage.head_consecutive if self.second_stage else 1}[self.stage]

    @property
    def needs_embeddings(self) -> bool:
        """Stage ``head`` reads the Spotter's shared stream of embedding windows."""
        return self.stage == "head"

    @property
    def needs_recent_audio(self) -> bool:
        """Stage ``cascade`` reads the recent audio (kws.embedding.recent) when its detector fires."""
        return self.stage == "cascade"

    @property
    def step_samples(self) -> int:
        return self.clock.step_samples

    @property
    def step_s(self) -> float:
        return self.clock.step_s

    def step_end_sample(self, step):
        return self.clock.step_end_sample(step)

    def step_end_time(self, step):
        return self.clock.step_end_time(step)

    def initial_state(self) -> dict[str, np.ndarray]:
        return {name: np.zeros(shape, dtype=np.float32) for name, shape in self._state_shapes.items()}

    def run(self, feats: np.ndarray, state: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """feats: (frames, n_mels), frames a multiple of frames_per_step."""
        feed = {self.meta.features_input: np.ascontiguousarray(feats[None], dtype=np.float32), **state}
        probs, *new = self._session.run(self._output_names, feed)
        return probs[0], dict(zip(self.meta.state, new))

    def stream(self) -> "ModelStream":
        """The detector graph's position in one stream: feature frames in, probabilities out."""
        return ModelStream(self)

    def scores_stream(self):
        """This model's scores on one audio stream, whatever its stage (kws.model.stages)."""
        from kws.model.stages import STREAMS
        return STREAMS[self.stage](self)


class ModelStream:
    def __init__(self, model: KeywordModel):
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.state = self.model.initial_state()
        self._pending = np.zeros((0, self.model.frontend.n_mels), dtype=np.float32)
        self.steps_emitted = 0

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Feed feature frames; return the probabilities of the steps they complete."""
        buf = np.concatenate([self._pending, frames]) if self._pending.size else frames
        usable = buf.shape[0] - buf.shape[0] % self.model.frames_per_step
        self._pending = buf[usable:]
        if usable == 0:
            return np.zeros(0, dtype=np.float32)
        probs, self.state = self.model.run(buf[:usable], self.state)
        self.steps_emitted += probs.size
        return probs
