"""The detector network: causal Conv1D front, GRU, per-step sigmoid.

As in the classic trigger-word recipe (Conv1D -> batch norm -> ReLU -> dropout -> GRU),
but causal and with its streaming state explicit, in the style of google-research
kws_streaming: ``forward(features, conv_state, gru_state)`` returns
``(probabilities, new_conv_state, new_gru_state)``.  The conv state is the last
``kernel - 1`` normalised feature frames (zeros at the start); the GRU state is its hidden vector.  Feeding a stream
in pieces whose lengths are multiples of ``stride`` gives exactly the outputs of one
pass over the whole stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class NetParams:
    n_mels: int = 40
    conv_channels: int = 96
    kernel: int = 5
    stride: int = 3  # frames per output step: 30 ms, a third of the GRU work of 10 ms
    gru_hidden: int = 96
    gru_layers: int = 2
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


class KeywordNet(nn.Module):
    def __init__(self, p: NetParams):
        super().__init__()
        assert p.kernel >= p.stride, "the conv state must cover a whole stride"
        self.p = p
        self.conv = nn.Conv1d(p.n_mels, p.conv_channels, p.kernel, stride=p.stride)
        self.norm = nn.BatchNorm1d(p.conv_channels)
        self.drop = nn.Dropout(p.dropout)
        self.gru = nn.GRU(p.conv_channels, p.gru_hidden, p.gru_layers, batch_first=True,
                          dropout=p.dropout if p.gru_layers > 1 else 0.0)
        self.head = nn.Linear(p.gru_hidden, 1)
        # Feature normalisation measured on training data, stored in the graph itself so
        # that the runtime feeds raw log-mel features.
        self.register_buffer("feat_mean", torch.zeros(p.n_mels))
        self.register_buffer("feat_std", torch.ones(p.n_mels))

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.p
        return (torch.zeros(batch, p.kernel - 1, p.n_mels),
                torch.zeros(p.gru_layers, batch, p.gru_hidden))

    def logits(self, feats, conv_state, gru_state):
        """feats: (batch, frames, n_mels) with frames a multiple of stride."""
        x = torch.cat([conv_state, (feats - self.feat_mean) / self.feat_std], dim=1)
        new_conv_state = x[:, x.shape[1] - (self.p.kernel - 1):, :]
        y = self.drop(torch.relu(self.norm(self.conv(x.transpose(1, 2))))).transpose(1, 2)
        y, new_gru_state = self.gru(y, gru_state)
        return self.head(y).squeeze(-1), new_conv_state, new_gru_state

    def forward(self, feats, conv_state, gru_state):
        logits, c, h = self.logits(feats, conv_state, gru_state)
        return torch.sigmoid(logits), c, h
