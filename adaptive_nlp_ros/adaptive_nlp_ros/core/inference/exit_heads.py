"""
Exit heads: after every encoder layer, a sentence classifier and a token tagger, calibrated.

The sentence head mean-pools the hidden state over real tokens (as all-MiniLM-L6-v2 was
trained to be pooled) and maps it through a two-layer classifier: the label (the first
action's intent). The token head maps every word piece's hidden state to the three tag
distributions of ``parse.TagScheme`` (action segments, argument roles, intents), which
``parse.decode`` turns into actions. One temperature per head and per tag group, fitted on
dev, turns logits into calibrated probabilities. Artifacts trained on label-only data have
no token heads (``structured`` is False): their commands parse as one action.
"""

import pathlib
from typing import List, Optional, Sequence, Tuple

import torch

from .parse import TagScheme


def mean_pool(hidden: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """Average of the hidden state over real tokens: [batch, tokens, width] -> [batch, width]."""
    if bool(token_mask.all()):
        return hidden.mean(dim=1)
    weights = token_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


TokenProbabilities = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]   # segment, role, intent


class ExitHeads(torch.nn.Module):
    """Per layer a sentence head and (structured) a token head, with their temperatures."""

    def __init__(self, num_layers: int, hidden_size: int, labels: Sequence[str],
                 inner_size: int = 256, dropout: float = 0.1,
                 scheme: Optional[TagScheme] = None):
        super().__init__()
        self.labels: List[str] = list(labels)
        self.inner_size = inner_size
        self.scheme = scheme
        self.heads = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Dropout(dropout),
                                torch.nn.Linear(hidden_size, inner_size), torch.nn.Tanh(),
                                torch.nn.Linear(inner_size, len(self.labels)))
            for _ in range(num_layers))
        width = scheme.width if scheme is not None else 1
        self.token_heads = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(hidden_size, width))
            for _ in range(num_layers if scheme is not None else 0))
        self.register_buffer('temperatures', torch.ones(num_layers))
        self.register_buffer('token_temperatures', torch.ones(num_layers, 3))
        self._inference_weights = None

    @property
    def num_layers(self) -> int:
        """Return the number of heads (one per encoder layer)."""
        return len(self.heads)

    @property
    def structured(self) -> bool:
        """Return True when these heads tag tokens (trained on lines with actions)."""
        return self.scheme is not None

    def logits(self, layer: int, hidden: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits of the sentence head after ``layer`` (1-based)."""
        return self.heads[layer - 1](mean_pool(hidden, token_mask))

    def token_logits(self, layer: int, hidden: torch.Tensor) -> torch.Tensor:
        """Uncalibrated token logits [batch, tokens, scheme.width] after ``layer``."""
        return self.token_heads[layer - 1](hidden)

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
        weights = self._weights(layer)
        inner = torch.tanh(torch.nn.functional.linear(mean_pool(hidden, token_mask),
                                                      weights[0], weights[1]))
        logits = torch.nn.functional.linear(inner, weights[2], weights[3])
        return torch.softmax(logits / weights[4], dim=-1)

    def token_probabilities(self, layer: int, hidden: torch.Tensor) -> TokenProbabilities:
        """Return calibrated (segment, role, intent) probabilities, each [batch, tokens, n]."""
        weights = self._weights(layer)
        logits = torch.nn.functional.linear(hidden, weights[5], weights[6])
        temperatures = weights[7]
        return tuple(torch.softmax(logits[..., part] / temperatures[index], dim=-1)
                     for index, part in enumerate(self.scheme.slices()))

    def _weights(self, layer: int):
        """Return views of one layer's weights for functional calls (in-place updates show)."""
        if self._inference_weights is None:
            rows = []
            for index, head in enumerate(self.heads):
                row = (head[1].weight, head[1].bias, head[3].weight, head[3].bias,
                       self.temperatures[index])
                if self.structured:
                    token = self.token_heads[index][1]
                    row += (token.weight, token.bias, self.token_temperatures[index])
                rows.append(row)
            self._inference_weights = tuple(rows)
        return self._inference_weights[layer - 1]

    def train(self, mode: bool = True) -> 'ExitHeads':
        """Switch mode; the functional weights are re-taken at the next eval-mode call."""
        self._inference_weights = None
        return super().train(mode)

    def save(self, path: pathlib.Path) -> None:
        """Write weights, temperatures, label names and the tag scheme to one file."""
        torch.save({'labels': self.labels, 'inner_size': self.inner_size,
                    'hidden_size': self.heads[0][1].in_features,
                    'intents': list(self.scheme.intents) if self.scheme else None,
                    'intent_roles': self.scheme.intent_roles_json() if self.scheme else None,
                    'intent_signatures': (self.scheme.intent_signatures_json()
                                          if self.scheme else None),
                    'state_dict': self.state_dict()}, str(path))

    @classmethod
    def load(cls, path: pathlib.Path) -> 'ExitHeads':
        """Read heads written by ``save`` (weights only: no code is unpickled)."""
        saved = torch.load(str(path), map_location='cpu', weights_only=True)
        num_layers = int(saved['state_dict']['temperatures'].shape[0])
        intents = saved.get('intents')
        heads = cls(num_layers, int(saved['hidden_size']), saved['labels'],
                    inner_size=int(saved['inner_size']),
                    scheme=TagScheme(
                        tuple(intents),
                        intent_roles=TagScheme.intent_roles_of(saved.get('intent_roles')),
                        intent_signatures=TagScheme.intent_signatures_of(
                            saved.get('intent_signatures'))) if intents else None)
        heads.load_state_dict(saved['state_dict'])      # copies in place: views stay valid
        return heads.eval()
