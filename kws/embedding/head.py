"""A keyword's head over the speech embedding: (n, 16, 96) windows -> (n,) probabilities
that the keyword has just ended.  A small stateless ONNX graph beside the detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kws.errors import KwsError

INPUT, OUTPUT = "embeddings", "probabilities"


class EmbeddingHead:
    def __init__(self, path: Path, threads: int = 1):
        from kws.model.detector import onnx_session

        self.path = Path(path)
        self._session = onnx_session(self.path, threads, "the head")
        names_in = [i.name for i in self._session.get_inputs()]
        names_out = [o.name for o in self._session.get_outputs()]
        if names_in != [INPUT] or names_out != [OUTPUT]:
            raise KwsError(f"{self.path}: a head takes '{INPUT}' and gives '{OUTPUT}' (has {names_in} -> {names_out})")

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0, np.float32)
        out = self._session.run([OUTPUT], {INPUT: np.ascontiguousarray(windows, dtype=np.float32)})[0]
        return out.reshape(-1)
