"""Torch datasets of composed clips, generated on the fly and deterministic per seed.

Each example's random generator is seeded with (seed, epoch, index), so the same run
gives the same data whatever the worker count, and a resumed run continues exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from kws.frontend import FrontendParams, LogMel
from kws.train.synth import SplitData, clip_example


class ClipDataset(torch.utils.data.Dataset):
    def __init__(self, data: SplitData, synth_cfg, fe: FrontendParams, frames_per_step: int,
                 size: int, seed: int, train: bool):
        self.data, self.cfg, self.fe = data, synth_cfg, fe
        self.frames_per_step, self.size, self.seed, self.train = frames_per_step, size, seed, train
        self.logmel = LogMel(fe)
        self.epoch = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        feats, labels = clip_example(rng, self.data, self.cfg, self.fe, self.logmel, self.frames_per_step, self.train)
        return torch.from_numpy(feats), torch.from_numpy(labels)


def materialise(ds: ClipDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate a whole (dev) dataset once, as two stacked tensors."""
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    return torch.stack(xs), torch.stack(ys)
