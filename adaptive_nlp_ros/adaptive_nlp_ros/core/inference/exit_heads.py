"""
Exit heads: a small classifier after every encoder layer, with calibrated confidences.

Each head mean-pools the hidden state over real tokens (as all-MiniLM-L6-v2 was trained to
be pooled) and maps it through a two-layer classifier. One temperature per head, fitted on
dev, turns its logits into calibrated probabilities.
"""

import pathlib
from typing import List, Sequence

import torch


def mean_pool(hidden: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """Average of the hidden state over real tokens: [batch, tokens, width] -> [batch, width]."""
    if bool(token_mask.all()):
        return hidden.mean(dim=1)
    weights = token_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ExitHeads(torch.nn.Module):
    """One classifier per layer; ``temperatures`` hold the per-head calibration."""

    def __init__(self, num_layers: int, hidden_size: int, labels: Sequence[str],
                 inner_size: int = 256, dropout: float = 0.1):
        super().__init__()
        self.labels: List[str] = list(labels)
        self.inner_size = inner_size
        self.heads = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Dropout(dropout),
                                torch.nn.Linear(hidden_size, inner_size), torch.nn.Tanh(),
                                torch.nn.Linear(inner_size, len(self.labels)))
            for _ in range(num_layers))
        self.register_buffer('temperatures', torch.ones(num_layers))
        self._inference_weights = None

    @property
    def num_layers(self) -> int:
        """Return the number of heads (one per encoder layer)."""
        return len(self.heads)

    def logits(self, layer: int, hidden: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits of the head after ``layer`` (1-based)."""
        return self.heads[layer - 1](mean_pool(hidden, token_mask))

    def probabilities(self, layer: int, hidden: torch.Tensor,
                      token_mask: torch.Tensor) -> torch.Tensor:
        """
        Return calibrated class probabilities [batch, labels] of the head after ``layer``.

        In eval mode the head runs as plain functional calls on its weights (dropout is off
        there anyway): the module call overhead was most of a head's cost at batch 1.
        """
        if self.training:
            logits = self.logits(layer, hidden, token_mask)
            return torch.softmax(logits / self.temperatures[layer - 1], dim=-1)
        if self._inference_weights is None:
            # Views, not copies: later in-place updates (calibration) show through.
            self._inference_weights = tuple(
                (head[1].weight, head[1].bias, head[3].weight, head[3].bias,
                 self.temperatures[index]) for index, head in enumerate(self.heads))
        inner_weight, inner_bias, out_weight, out_bias, temperature = (
            self._inference_weights[layer - 1])
        inner = torch.tanh(torch.nn.functional.linear(mean_pool(hidden, token_mask),
                                                      inner_weight, inner_bias))
        logits = torch.nn.functional.linear(inner, out_weight, out_bias)
        return torch.softmax(logits / temperature, dim=-1)

    def train(self, mode: bool = True) -> 'ExitHeads':
        """Switch mode; the functional weights are re-taken at the next eval-mode call."""
        self._inference_weights = None
        return super().train(mode)

    def save(self, path: pathlib.Path) -> None:
        """Write weights, temperatures and label names to one file."""
        torch.save({'labels': self.labels, 'inner_size': self.inner_size,
                    'hidden_size': self.heads[0][1].in_features,
                    'state_dict': self.state_dict()}, str(path))

    @classmethod
    def load(cls, path: pathlib.Path) -> 'ExitHeads':
        """Read heads written by ``save`` (weights only: no code is unpickled)."""
        saved = torch.load(str(path), map_location='cpu', weights_only=True)
        num_layers = int(saved['state_dict']['temperatures'].shape[0])
        heads = cls(num_layers, int(saved['hidden_size']), saved['labels'],
                    inner_size=int(saved['inner_size']))
        heads.load_state_dict(saved['state_dict'])      # copies in place: views stay valid
        return heads.eval()
