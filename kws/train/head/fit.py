"""Training a head on cached embeddings, openWakeWord's way: negative-heavy batches, the
negatives' loss weight ramped up over training, and the checkpoint chosen by the mean miss
over a range of false-alarm rates on dev (clips of the word against the dev negatives)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from kws.embedding.speech import EMBEDDING_STEP, EMBEDDINGS_PER_WINDOW
from kws.eval.scoring import THRESHOLDS, miss_at_fa, sweep_clips
from kws.train.head.net import HeadNet
from kws.trigger import TriggerParams

SR = 16000
W = EMBEDDINGS_PER_WINDOW
SELECT_FA = (0.1, 0.25, 0.5, 1.0, 2.0)  # false alarms per hour the checkpoint metric averages over
REFRACTORY_STEPS = int(round(1.5 * SR / EMBEDDING_STEP))


class NegativePool:
    """Negative embeddings of many items, as windows of 16 that never cross an item's end or
    touch an embedding the word may not use."""

    def __init__(self, arrays: list[np.ndarray], masks: list[np.ndarray]):
        self.x = np.concatenate([np.asarray(a, np.float16) for a in arrays]) if arrays else np.zeros((0, 96), np.float16)
        self.items, self._starts, offset = [], [], 0
        for a, m in zip(arrays, masks):
            self._index(offset, len(a), m)
            offset += len(a)
        self.starts = np.concatenate(self._starts) if self._starts else np.zeros(0, np.int64)

    def _index(self, offset: int, n: int, mask: np.ndarray) -> None:
        if n >= W:
            bad = np.concatenate([[0], np.cumsum(~mask)])
            s = np.arange(n - W + 1)
            ok = (bad[s + W] - bad[s]) == 0
            self._starts.append(offset + s[ok])
            self.items.append((offset, n, ok))

    def add(self, embeddings: np.ndarray) -> None:
        """One more item, every window allowed (a word's own synthetic negatives)."""
        offset = len(self.x)
        self.x = np.concatenate([self.x, np.asarray(embeddings, np.float16)])
        self._index(offset, len(embeddings), np.ones(len(embeddings), bool))
        self.starts = np.concatenate(self._starts)

    @property
    def hours(self) -> float:
        return len(self.starts) * EMBEDDING_STEP / SR / 3600

    def windows(self, starts: np.ndarray) -> np.ndarray:
        return self.x[starts[:, None] + np.arange(W)]

    def sample(self, rng, n: int) -> np.ndarray:
        return self.windows(self.starts[rng.integers(0, len(self.starts), n)])

    def scored_items(self, score) -> list[np.ndarray]:
        """Every window of every item in order, scored (0 where a window is not allowed)."""
        out = []
        for offset, n, ok in self.items:
            s = np.zeros(n - W + 1, np.float32)
            idx = np.flatnonzero(ok)
            for b in range(0, len(idx), 4096):
                part = idx[b:b + 4096]
                s[part] = score(self.windows(offset + part))
            out.append(s)
        return out


@dataclass
class HeadFitConfig:
    steps: int = 6000
    batch_negatives: int = 384
    batch_positives: int = 128
    lr: float = 0.001
    weight_decay: float = 0.01
    max_negative_weight: float = 20.0  # the negatives' loss weight, ramped from 1 over the first half
    hidden: int = 64
    dropout: float = 0.2
    eval_every: int = 250


def predict(net: HeadNet, windows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(np.asarray(windows, np.float32)))).numpy()


def clip_scores(probs: np.ndarray, owner: np.ndarray) -> list[np.ndarray]:
    return [probs[owner == k] for k in np.unique(owner)]


def selection_metric(pos_probs: list[np.ndarray], neg_probs: list[np.ndarray], hours: float,
                     fa_targets=SELECT_FA) -> tuple[float, dict]:
    """Mean miss over ``fa_targets`` (a positive clip is hit when any of its windows fires), and
    the miss at each; one false alarm per negative run above threshold (1.5 s refractory)."""
    c = sweep_clips(pos_probs, neg_probs, hours, THRESHOLDS,
                    lambda th: TriggerParams(threshold=th, consecutive=1, refractory_steps=REFRACTORY_STEPS))
    misses = {fa: miss_at_fa(c, fa)[0] for fa in fa_targets}
    return float(np.mean(list(misses.values()))), misses


def fit_head(train_pos: np.ndarray, train_neg: NegativePool, dev_pos: tuple[np.ndarray, np.ndarray],
             dev_neg: NegativePool, cfg: HeadFitConfig, seed: int, log=print) -> tuple[HeadNet, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = HeadNet(cfg.hidden, cfg.dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    best, history, t0 = None, [], time.monotonic()
    labels = torch.cat([torch.ones(cfg.batch_positives), torch.zeros(cfg.batch_negatives)])
    for step in range(1, cfg.steps + 1):
        net.train()
        pos = train_pos[rng.integers(0, len(train_pos), cfg.batch_positives)]
        neg = train_neg.sample(rng, cfg.batch_negatives)
        x = torch.from_numpy(np.concatenate([pos, neg]).astype(np.float32))
        w_neg = 1.0 + (cfg.max_negative_weight - 1.0) * min(1.0, step / (0.5 * cfg.steps))
        weights = torch.cat([torch.ones(cfg.batch_positives), torch.full((cfg.batch_negatives,), w_neg)])
        loss = (bce(net(x), labels) * weights).sum() / weights.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            net.eval()
            metric, misses = selection_metric(clip_scores(predict(net, dev_pos[0]), dev_pos[1]),
                                              dev_neg.scored_items(lambda w: predict(net, w)), dev_neg.hours)
            history.append({"step": step, "loss": round(loss.item(), 4), "metric": round(metric, 4),
                            **{f"miss_at_{fa:g}": round(m, 4) for fa, m in misses.items()}})
            if best is None or metric < best[0]:
                best = (metric, step, copy.deepcopy(net.state_dict()))
            log(f"  head step {step}: loss {loss.item():.4f}, dev mean miss {100 * metric:.1f}% "
                f"(at 0.5 FA/h {100 * misses.get(0.5, float('nan')):.1f}%), {time.monotonic() - t0:.0f} s")
    net.load_state_dict(best[2])
    net.eval()
    return net, {"best_step": best[1], "best_metric": best[0], "history": history,
                 "seconds": round(time.monotonic() - t0, 1)}
