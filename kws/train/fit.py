"""The training loop: BCE on per-step labels, early stopping on a dev metric, resumable.

A checkpoint is written after every epoch (``work_dir/checkpoint.pt``); starting the same
command again resumes from it.  The dev metric is the clip-level ROC AUC of the maximum
probability in each dev clip (does the clip contain the keyword?), ties broken by dev loss.
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


def evaluate_clips(model: KeywordNet, x: torch.Tensor, y: torch.Tensor, pos_weight: float, batch: int = 128):
    model.eval()
    losses, maxes = [], []
    crit = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight), reduction="sum")
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            logits, _, _ = model.logits(xb, *model.initial_state(len(xb)))
            losses.append(crit(logits, yb).item())
            maxes.append(torch.sigmoid(logits).max(dim=1).values.numpy())
    loss = sum(losses) / y.numel()
    auc = roc_auc(np.concatenate(maxes), (y.sum(dim=1) > 0).numpy())
    return loss, auc


def fit(model: KeywordNet, train_ds: ClipDataset, dev: tuple[torch.Tensor, torch.Tensor], fit_cfg,
        work_dir: Path, log=print) -> dict:
    torch.manual_seed(fit_cfg.seed)
    torch.set_num_threads(fit_cfg.threads)
    opt = torch.optim.AdamW(model.parameters(), lr=fit_cfg.lr, weight_decay=fit_cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=fit_cfg.epochs)
    crit = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(fit_cfg.positive_weight))
    ckpt_path = work_dir / "checkpoint.pt"
    state = {"epoch": 0, "best": None, "best_epoch": -1, "history": [], "best_model": None}
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
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
            logits, _, _ = model.logits(xb, *model.initial_state(len(xb)))
            loss = crit(logits, yb)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total, n = total + loss.item() * len(xb), n + len(xb)
        sched.step()
        dev_loss, dev_auc = evaluate_clips(model, *dev, fit_cfg.positive_weight)
        row = {"epoch": epoch + 1, "train_loss": total / max(n, 1), "dev_loss": dev_loss, "dev_auc": dev_auc,
               "seconds": round(time.monotonic() - t0, 1)}
        state["history"].append(row)
        key = (dev_auc, -dev_loss)
        if state["best"] is None or key > tuple(state["best"]):
            state["best"], state["best_epoch"] = list(key), epoch
            state["best_model"] = copy.deepcopy(model.state_dict())
        state["epoch"] = epoch + 1
        log(f"epoch {epoch + 1}/{fit_cfg.epochs}: train loss {row['train_loss']:.4f}, dev loss {dev_loss:.4f}, "
            f"dev AUC {dev_auc:.4f} ({row['seconds']} s){' *' if state['best_epoch'] == epoch else ''}")
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "state": state}, tmp)
        tmp.replace(ckpt_path)  # atomic: an interrupted save never corrupts the checkpoint
    if state["epoch"] - state["best_epoch"] > fit_cfg.patience:
        log(f"early stop: no dev improvement for {fit_cfg.patience} epochs")
    model.load_state_dict(state["best_model"])
    model.eval()
    return {"history": state["history"], "best_epoch": state["best_epoch"] + 1,
            "dev_auc": state["best"][0], "dev_loss": -state["best"][1],
            "fit_seconds_this_run": round(time.monotonic() - started, 1)}
