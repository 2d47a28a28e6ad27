"""New voices from synthetic ones: WORLD vocoder speaker conversion (pyworld).

A TTS engine has a few dozen voices; real users have millions.  The mel-axis warp in
kws.train.augment moves pitch and formants together and only in the features.  WORLD
splits a clip into its pitch contour (F0), spectral envelope (vocal tract) and
aperiodicity, so the pitch can be scaled on its own and the envelope stretched along the
frequency axis (a longer or shorter vocal tract), then the clip is resynthesised: a new
speaker saying the same word with the same timing.  Done once per clip before training
(about 0.05 s of CPU per 1 s clip), because it is far too slow to run for every composed example.
"""

from __future__ import annotations

import sys

import numpy as np

from kws.train.data import Utterance


def _import_pyworld():
    # pyworld 0.3.5 reads its version through pkg_resources, which setuptools >= 81 no
    # longer ships; give it the one function it calls instead of pinning setuptools.
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            import importlib.metadata
            import types
            shim = types.ModuleType("pkg_resources")
            shim.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))
            sys.modules["pkg_resources"] = shim
    try:
        import pyworld
    except ImportError as e:
        from kws.errors import KwsError, install_hint
        raise KwsError(f"synth.world_variants needs pyworld: {install_hint('world')}") from e
    return pyworld


def convert(x: np.ndarray, f0_scale: float, formant_scale: float, sr: int = 16000) -> np.ndarray:
    """``x`` said by another voice: pitch times ``f0_scale``, formants times ``formant_scale``."""
    pw = _import_pyworld()
    xd = x.astype(np.float64)
    f0, t = pw.dio(xd, sr, frame_period=5.0)
    f0 = pw.stonemask(xd, f0, t, sr)
    sp = pw.cheaptrick(xd, f0, t, sr)
    ap = pw.d4c(xd, f0, t, sr)
    bins = np.arange(sp.shape[1])
    # Envelope at frequency f of the new voice = old envelope at f / formant_scale.
    src = np.clip(bins / formant_scale, 0, sp.shape[1] - 1)
    sp = np.stack([np.interp(src, bins, frame) for frame in sp])
    y = pw.synthesize(f0 * f0_scale, np.ascontiguousarray(sp), ap, sr, frame_period=5.0)[: len(x)]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    peak = float(np.abs(y).max())
    return (y / peak * min(peak, 0.99)).astype(np.float32) if peak > 0 else y.astype(np.float32)


def world_variants(utts: list[Utterance], per_clip: int, f0_range, formant_range, seed: int,
                   recordings: bool = False) -> list[Utterance]:
    """``per_clip`` converted copies of each synthetic (``tts/``) utterance, and of each real
    recording too with ``recordings`` (new speakers with a real speaker's accent and timing)."""
    rng = np.random.default_rng(seed)
    out = []
    for u in utts:
        if not (recordings or u.source.startswith("tts/")):
            continue
        for _ in range(per_clip):
            f0 = float(np.exp(rng.uniform(*np.log(f0_range))))
            formant = float(np.exp(rng.uniform(*np.log(formant_range))))
            out.append(Utterance(convert(u.audio, f0, formant), f"{u.source}#world", u.word))
    return out
