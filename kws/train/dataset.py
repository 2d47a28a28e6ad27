"""Torch datasets of composed clips, generated on the fly and deterministic per seed.

Each example's random generator is seeded with (seed, epoch, index), so the same run
gives the same data whatever the worker count, and a resumed run continues exactly.

Composing a clip and computing its log-mel features costs about three times the CPU of training on
it, so ``synth.feature_reuse`` = R > 1 composes only 1/R of an epoch's examples and uses each
R times, in different batches, each time with a new mel warp and SpecAugment masks (cheap,
in the feature domain).  The features are cached per worker for one epoch.
"""

from __future__ import annotations

import numpy as np
import torch

from kws.frontend import FrontendParams, LogMel
from kws.train.synth import SplitData, augment_features, clip_example, clip_features


class ClipDataset(torch.utils.data.Dataset):
    def __init__(self, data: SplitData, synth_cfg, fe: FrontendParams, frames_per_step: int,
                 size: int, seed: int, train: bool):
        self.data, self.cfg, self.fe = data, synth_cfg, fe
        self.frames_per_step, self.size, self.seed, self.train = frames_per_step, size, seed, train
        self.logmel = LogMel(fe)
        self.epoch = 0
        self.reuse = max(1, int(synth_cfg.feature_reuse)) if train else 1
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cache_epoch = -1

    def __len__(self) -> int:
        return self.size

    @property
    def composed_per_epoch(self) -> int:
        return -(-self.size // self.reuse)

    def __getitem__(self, i: int):
        if self.reuse == 1:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            feats, labels = clip_example(rng, self.data, self.cfg, self.fe, self.logmel, self.frames_per_step,
                                         self.train)
            return torch.from_numpy(feats), torch.from_numpy(labels)
        if self._cache_epoch != self.epoch:
            self._cache, self._cache_epoch = {}, self.epoch
        base = i % self.composed_per_epoch  # the uses of one clip fall in different batches
        if base not in self._cache:
            rng = np.random.default_rng([self.seed, self.epoch, base])
            self._cache[base] = clip_features(rng, self.data, self.cfg, self.fe, self.logmel, self.frames_per_step)
        feats, labels = self._cache[base]
        feats = augment_features(np.random.default_rng([self.seed, self.epoch, i, 1]), feats, self.cfg)
        return torch.from_numpy(feats), torch.from_numpy(labels)


def materialise(ds: ClipDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate a whole (dev) dataset once, as two stacked tensors."""
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    return torch.stack(xs), torch.stack(ys)
