"""The detector network: causal Conv1D front, optional dilated depthwise blocks, GRU, per-step sigmoid.

As in the classic trigger-word recipe (Conv1D -> batch norm -> ReLU -> dropout -> GRU),
but causal and with its streaming state explicit, in the style of google-research
kws_streaming: ``forward(features, *state)`` returns ``(probabilities, *new_state)``.
The state is, in order:

- ``conv_state``: the last ``kernel - 1`` normalised feature frames (zeros at the start);
- ``tcn<i>_state`` (one per entry of ``tcn_dilations``): temporal block i's last
  ``(tcn_kernel - 1) * dilation`` input steps, channels first;
- ``gru_state``: the GRU's hidden vectors.

Feeding a stream in pieces whose lengths are multiples of ``stride`` gives exactly the
outputs of one pass over the whole stream.  The temporal blocks (depthwise causal conv with
a dilation, pointwise conv, batch norm, ReLU, residual) widen what the GRU sees at each step
for little compute, as in the depthwise/dilated front ends of microWakeWord's MixedNet and
the TC-ResNet family.
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
    tcn_dilations: list = ()  # e.g. [1, 2, 4]: one causal depthwise block per dilation (kept as a tuple)
    tcn_kernel: int = 3
    outputs: int = 1  # one per word: more only in the multi-word encoder (kws.train.encoder)

    def __post_init__(self):
        dil = tuple(self.tcn_dilations)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dil):
            raise ValueError(f"tcn_dilations must be whole numbers of at least 1, got {list(dil)}")
        if dil and self.tcn_kernel < 2:
            raise ValueError(f"tcn_kernel must be at least 2, got {self.tcn_kernel}")
        object.__setattr__(self, "tcn_dilations", dil)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tcn_dilations"] = list(self.tcn_dilations)
        return d

    @property
    def tcn_history(self) -> list[int]:
        """Steps of past input each temporal block keeps."""
        return [(self.tcn_kernel - 1) * d for d in self.tcn_dilations]


class TemporalBlock(nn.Module):
    """Causal depthwise conv (with dilation) -> pointwise conv -> BN -> ReLU -> dropout, plus the input."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.history = (kernel - 1) * dilation
        self.depthwise = nn.Conv1d(channels, channels, kernel, dilation=dilation, groups=channels, bias=False)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.norm = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, state):
        """x: (batch, channels, steps); state: (batch, channels, history).  Channels first
        throughout, so that the exported graph has no transposes between blocks (at one step
        per call, every extra ONNX op costs more than its arithmetic)."""
        full = torch.cat([state, x], dim=2)
        # A negative start, not full.shape[2] - history: the exported Slice then has constant
        # bounds instead of Shape/Gather/Sub ops recomputed on every call.
        new_state = full[:, :, -self.history:]
        y = self.drop(torch.relu(self.norm(self.pointwise(self.depthwise(full)))))
        return x + y, new_state

    def fused(self) -> "FusedTemporalBlock":
        """The same block for inference as one dense dilated conv (see FusedTemporalBlock)."""
        return FusedTemporalBlock(self)


class FusedTemporalBlock(nn.Module):
    """A TemporalBlock in eval mode with depthwise conv, pointwise conv and batch norm folded
    into one dense dilated conv: W[o, i, k] = s[o] * P[o, i] * D[i, k], with s the batch
    norm's scale.  The same arithmetic in one graph op instead of two convs and a norm; at
    one 30 ms step per call the per-op overhead, not the multiply-adds, sets the cost.  Used
    only by the ONNX export."""

    def __init__(self, block: TemporalBlock):
        super().__init__()
        self.history = block.history
        d, pw, bn = block.depthwise, block.pointwise, block.norm
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = pw.weight[:, :, 0, None] * d.weight[None, :, 0, :]  # (out, in, kernel)
        self.conv = nn.Conv1d(d.in_channels, pw.out_channels, d.kernel_size[0], dilation=d.dilation[0])
        with torch.no_grad():
            self.conv.weight.copy_(weight * scale[:, None, None])
            self.conv.bias.copy_((pw.bias - bn.running_mean) * scale + bn.bias)

    def forward(self, x, state):
        full = torch.cat([state, x], dim=2)
        return x + torch.relu(self.conv(full)), full[:, :, -self.history:]


class KeywordNet(nn.Module):
    def __init__(self, p: NetParams):
        super().__init__()
        assert p.kernel >= p.stride, "the conv state must cover a whole stride"
        self.p = p
        self.conv = nn.Conv1d(p.n_mels, p.conv_channels, p.kernel, stride=p.stride)
        self.norm = nn.BatchNorm1d(p.conv_channels)
        self.drop = nn.Dropout(p.dropout)
        self.tcn = nn.ModuleList(TemporalBlock(p.conv_channels, p.tcn_kernel, d, p.dropout) for d in p.tcn_dilations)
        self.gru = nn.GRU(p.conv_channels, p.gru_hidden, p.gru_layers, batch_first=True,
                          dropout=p.dropout if p.gru_layers > 1 else 0.0)
        self.head = nn.Linear(p.gru_hidden, p.outputs)
        # Feature normalisation measured on training data, stored in the graph itself so
        # that the runtime feeds raw log-mel features.
        self.register_buffer("feat_mean", torch.zeros(p.n_mels))
        self.register_buffer("feat_std", torch.ones(p.n_mels))

    def state_names(self) -> list[str]:
        """Graph input names of the state, in the order of ``initial_state``."""
        return ["conv_state"] + [f"tcn{i}_state" for i in range(len(self.tcn))] + ["gru_state"]

    def initial_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        p = self.p
        tcn = tuple(torch.zeros(batch, p.conv_channels, h) for h in p.tcn_history)
        return (torch.zeros(batch, p.kernel - 1, p.n_mels), *tcn, torch.zeros(p.gru_layers, batch, p.gru_hidden))

    def logits(self, feats, *state):
        """feats: (batch, frames, n_mels) with frames a multiple of stride.  Returns (logits, new state)."""
        conv_state, gru_state = state[0], state[-1]
        x = torch.cat([conv_state, (feats - self.feat_mean) / self.feat_std], dim=1)
        keep = self.p.kernel - 1  # negative start: constant Slice bounds in the graph (see TemporalBlock)
        new_conv_state = x[:, -keep:, :] if keep else x[:, :0, :]
        y = self.drop(torch.relu(self.norm(self.conv(x.transpose(1, 2)))))  # (batch, channels, steps)
        new_tcn = []
        for block, block_state in zip(self.tcn, state[1:-1]):
            y, block_state = block(y, block_state)
            new_tcn.append(block_state)
        y, new_gru_state = self.gru(y.transpose(1, 2), gru_state)
        out = self.head(y)
        return (out.squeeze(-1) if self.p.outputs == 1 else out), (new_conv_state, *new_tcn, new_gru_state)

    def forward(self, feats, *state):
        logits, new_state = self.logits(feats, *state)
        return (torch.sigmoid(logits), *new_state)
