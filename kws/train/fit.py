"""The training loop: weighted BCE on per-step labels, early stopping on a dev metric, resumable.

A checkpoint is written after every epoch (``work_dir/checkpoint.pt``); starting the same
command again resumes from it.  The dev metric is the benchmark's own: miss rate at the
target false-alarm rate on the dev streams (kws.train.select), averaged with the miss rates
at two and four times that rate (a steadier estimate from a few hours of dev audio), ties
broken by the partial ROC AUC (false-positive rate <= 5 %) of the maximum probability in
each dev clip.  Without dev streams the clip pAUC alone decides.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kws.train.dataset import ClipDataset
from kws.train.model import KeywordNet


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    allv = np.concatenate([pos, neg])
    for v in np.unique(allv):  # average ranks of ties
        idx = allv == v
        if idx.sum() > 1:
            ranks[idx] = ranks[idx].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def partial_auc(scores: np.ndarray, positive: np.ndarray, max_fpr: float = 0.05) -> float:
    """Area under the ROC curve for false-positive rates up to ``max_fpr``, divided by max_fpr.

    Rewards ranking positives above the *highest-scoring* negatives, which is what sets
    the false-alarm rate of a wake word; the full AUC is dominated by easy negatives."""
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])[::-1]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    k = max(1, int(np.floor(max_fpr * len(neg))))
    # TPR at each of the first k negatives' scores: positives strictly above that negative
    tprs = [1.0 - np.searchsorted(pos, neg[i], side="right") / len(pos) for i in range(k)]
    return float(np.mean(tprs))


def step_loss(logits: torch.Tensor, labels: torch.Tensor, positive_weight: float, negative_weight: float,
              reduction: str = "mean") -> torch.Tensor:
    """BCE per output step, label-1 steps weighted ``positive_weight``, label-0 steps
    ``negative_weight``: at a target of a false alarm every few hours the rare confident
    negatives are what matter, so negatives may weigh more than their count alone gives."""
    weight = torch.where(labels > 0.5, positive_weight, negative_weight)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels, weight=weight, reduction="sum")
    return loss / labels.numel() if reduction == "mean" else loss


def max_pool_loss(logits: torch.Tensor, labels: torch.Tensor, positive_weight: float, negative_weight: float,
                  reduction: str = "mean") -> torch.Tensor:
    """Max-pooling loss (Hey Snips, Amazon's max-pooling KWS loss): each run of label-1 steps
    (one keyword's window) contributes one BCE term, on its highest logit, so the model may
    fire anywhere in the window instead of at every step of it; label-0 steps are per step as
    in ``step_loss``.  Divided by the number of steps, like ``step_loss``."""
    if labels.dim() == 3:  # (batch, steps, words): windows run along the steps of each word
        logits, labels = logits.transpose(1, 2), labels.transpose(1, 2)
    pos = labels > 0.5
    neg = nn.functional.softplus(logits[~pos]).sum() * negative_weight  # -log(1 - sigmoid)
    prev = torch.cat([torch.zeros_like(pos[..., :1]), pos[..., :-1]], dim=-1)
    # Number the windows over the flattened (row-major) tensor: a window starts at a label-1
    # step after a label-0 step or at a row's first step, so no window spans two rows.
    ids = (torch.cumsum((pos & ~prev).reshape(-1).long(), 0) * pos.reshape(-1).long())
    n = int(ids.max()) if ids.numel() else 0
    total = neg
    if n:
        peak = torch.full((n + 1,), -torch.inf, dtype=logits.dtype).scatter_reduce(
            0, ids, logits.reshape(-1), reduce="amax", include_self=True)[1:]
        total = total + nn.functional.softplus(-peak).sum() * positive_weight  # -log(sigmoid)
    return total / labels.numel() if reduction == "mean" else total


LOSSES = {"step": step_loss, "max_pool": max_pool_loss}


def train_step(model: KeywordNet, opt, xb: torch.Tensor, yb: torch.Tensor, fit_cfg) -> float:
    """One optimiser step on a batch with the configured loss; returns the batch loss."""
    logits, _ = model.logits(xb, *model.initial_state(len(xb)))
    loss = LOSSES[fit_cfg.loss](logits, yb, fit_cfg.positive_weight, fit_cfg.negative_weight)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss.item()


def evaluate_clips(model: KeywordNet, x: torch.Tensor, y: torch.Tensor, positive_weight: float,
                   negative_weight: float = 1.0, batch: int = 128):
    model.eval()
    losses, maxes = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            logits, _ = model.logits(xb, *model.initial_state(len(xb)))
            losses.append(step_loss(logits, yb, positive_weight, negative_weight, reduction="sum").item())
            maxes.append(torch.sigmoid(logits).max(dim=1).values.numpy())
    loss = sum(losses) / y.numel()
    scores, positive = np.concatenate(maxes), (y.sum(dim=1) > 0).numpy()
    return loss, roc_auc(scores, positive), partial_auc(scores, positive)


def average_weights(state_dicts: list[dict]) -> dict:
    """The mean of several checkpoints of one network (openWakeWord merges its best checkpoints
    the same way); integer buffers (BatchNorm's batch count) are the first checkpoint's."""
    first = state_dicts[0]
    return {k: torch.stack([sd[k] for sd in state_dicts]).mean(0) if v.is_floating_point() else v.clone()
            for k, v in first.items()}


def final_weights(state: dict) -> dict:
    """The weights a finished run ships: the mean of its best epochs (fit.average_best) or its best epoch."""
    top = state.get("top", [])
    return average_weights([sd for _, _, sd in top]) if len(top) > 1 else state["best_model"]


def fit(model: KeywordNet, train_ds: ClipDataset, dev: tuple[torch.Tensor, torch.Tensor], fit_cfg,
        work_dir: Path, log=print, miner=None, selector=None) -> dict:
    torch.manual_seed(fit_cfg.seed)
    torch.set_num_threads(fit_cfg.threads)
    opt = torch.optim.AdamW(model.parameters(), lr=fit_cfg.lr, weight_decay=fit_cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=fit_cfg.epochs)
    ckpt_path = work_dir / "checkpoint.pt"
    state = {"epoch": 0, "best": None, "best_epoch": -1, "history": [], "best_model": None}
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        train_ds.data.hard_spots = state.get("hard_spots", [])
        log(f"resumed from {ckpt_path} after epoch {state['epoch']}")
    started = time.monotonic()
    while state["epoch"] < fit_cfg.epochs and state["epoch"] - state["best_epoch"] <= fit_cfg.patience:
        epoch = state["epoch"]
        train_ds.epoch = epoch
        loader = torch.utils.data.DataLoader(
            train_ds, batch_size=fit_cfg.batch_size, shuffle=False, num_workers=fit_cfg.workers,
            persistent_workers=False, prefetch_factor=4 if fit_cfg.workers else None)
        model.train()
        t0, total, n = time.monotonic(), 0.0, 0
        for xb, yb in loader:
            total, n = total + train_step(model, opt, xb, yb, fit_cfg) * len(xb), n + len(xb)
        sched.step()
        dev_loss, dev_auc, dev_pauc = evaluate_clips(model, *dev, fit_cfg.positive_weight, fit_cfg.negative_weight)
        row = {"epoch": epoch + 1, "train_loss": total / max(n, 1), "dev_loss": dev_loss, "dev_auc": dev_auc,
               "dev_pauc": dev_pauc}
        if selector is not None:
            row.update(selector.evaluate(model, fit_cfg.target_fa_per_hour))
            key = (-row["dev_miss_around"], dev_pauc)
        else:
            key = (dev_pauc, dev_auc)
        row["seconds"] = round(time.monotonic() - t0, 1)
        state["history"].append(row)
        if state["best"] is None or key > tuple(state["best"]):
            state["best"], state["best_epoch"] = list(key), epoch
            state["best_model"] = copy.deepcopy(model.state_dict())
        if fit_cfg.average_best > 1:  # the K best epochs so far, for average_weights at the end
            top = state.setdefault("top", [])
            top.append((list(key), epoch, copy.deepcopy(model.state_dict())))
            top.sort(key=lambda t: tuple(t[0]), reverse=True)
            del top[fit_cfg.average_best:]
        state["epoch"] = epoch + 1
        streams = (", dev miss " + ", ".join(f"{100 * v:.1f}% @ {k[9:]}" for k, v in row.items()
                                             if k.startswith("dev_miss_") and k != "dev_miss_around")
                   + " FA/h" if selector is not None else "")
        log(f"epoch {epoch + 1}/{fit_cfg.epochs}: train loss {row['train_loss']:.4f}, dev loss {dev_loss:.4f}, "
            f"dev AUC {dev_auc:.4f}, pAUC@5% {dev_pauc:.4f}{streams} ({row['seconds']} s)"
            f"{' *' if state['best_epoch'] == epoch else ''}")
        done = epoch + 1
        if miner and fit_cfg.mine_from_epoch and done >= fit_cfg.mine_from_epoch \
                and (done - fit_cfg.mine_from_epoch) % fit_cfg.mine_every == 0:
            t1 = time.monotonic()
            state["hard_spots"] = train_ds.data.hard_spots = miner.mine(model)
            log(f"mined {len(state['hard_spots'])} hard background spots ({time.monotonic() - t1:.0f} s)")
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "state": state}, tmp)
        tmp.replace(ckpt_path)  # atomic: an interrupted save never corrupts the checkpoint
    if state["epoch"] - state["best_epoch"] > fit_cfg.patience:
        log(f"early stop: no dev improvement for {fit_cfg.patience} epochs")
    model.load_state_dict(final_weights(state))
    model.eval()
    best = state["history"][state["best_epoch"]]
    averaged = None
    if len(state.get("top", [])) > 1:  # its dev numbers come from the exported model's evaluation (kws.train.train)
        averaged = {"epochs": sorted(e + 1 for _, e, _ in state["top"])}
        log(f"the model is the mean of the weights of epochs {averaged['epochs']} (best alone: {best['epoch']})")
    return {"history": state["history"], "best_epoch": state["best_epoch"] + 1, "averaged": averaged,
            "dev_auc": best["dev_auc"], "dev_pauc": best["dev_pauc"], "dev_loss": best["dev_loss"],
            **{k: v for k, v in best.items() if k.startswith("dev_miss_")},
            "fit_seconds_this_run": round(time.monotonic() - started, 1)}
