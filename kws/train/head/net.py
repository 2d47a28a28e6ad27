"""The head: a small network over the last 16 speech embeddings (openWakeWord's "dnn" head:
flatten, two fully connected layers with layer norm, a sigmoid), and its ONNX export."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from kws.embedding.head import INPUT, OUTPUT
from kws.embedding.speech import EMBEDDINGS_PER_WINDOW, N_EMBEDDING


class HeadNet(nn.Module):
    def __init__(self, hidden: int = 64, dropout: float = 0.2):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(EMBEDDINGS_PER_WINDOW * N_EMBEDDING, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(batch, 16, 96) -> (batch,) logits."""
        return self.layers(windows).squeeze(-1)


class _WithSigmoid(nn.Module):
    def __init__(self, net: HeadNet):
        super().__init__()
        self.net = net

    def forward(self, windows):
        return torch.sigmoid(self.net(windows))


def export_head(net: HeadNet, path: Path) -> None:
    """(batch, 16, 96) float32 'embeddings' -> (batch,) 'probabilities'."""
    net = net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_WithSigmoid(net), (torch.zeros(2, EMBEDDINGS_PER_WINDOW, N_EMBEDDING),), str(path),
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=17, dynamo=False)
