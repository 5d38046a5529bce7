"""
One transformer encoder layer, runnable at fp32, bf16, int8 or int4 on torch eager.

The library's own ``BertLayer`` spends most of a batch-1 pass in Python dispatch, so each
layer is re-expressed here as a handful of fused calls over weights taken from it (fused QKV
projection, ``scaled_dot_product_attention``, ``layer_norm``). The hidden state between
layers is always fp32; a layer casts it to its compute dtype on entry and back on exit,
which is what lets any segment of one pass run at any precision.
"""

from dataclasses import dataclass
from typing import Callable, Mapping, Optional
import warnings

import torch
import torch.nn.functional as F

# Weight-only int4 groups: 32 columns share one scale and zero point.
INT4_GROUP_SIZE = 32


@dataclass(frozen=True)
class LayerWeights:
    """The fp32 parameters of one BERT encoder layer, QKV fused into one projection."""

    qkv_weight: torch.Tensor
    qkv_bias: torch.Tensor
    attention_out_weight: torch.Tensor
    attention_out_bias: torch.Tensor
    attention_norm_weight: torch.Tensor
    attention_norm_bias: torch.Tensor
    ffn_in_weight: torch.Tensor
    ffn_in_bias: torch.Tensor
    ffn_out_weight: torch.Tensor
    ffn_out_bias: torch.Tensor
    ffn_norm_weight: torch.Tensor
    ffn_norm_bias: torch.Tensor
    num_heads: int
    norm_eps: float

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, torch.Tensor], prefix: str, num_heads: int,
                     norm_eps: float) -> 'LayerWeights':
        """
        Copy one BERT layer's parameters (detached, fp32) from a state dict.

        ``tensors`` holds the layer's parameters under their ``BertLayer`` names after
        ``prefix`` (e.g. ``encoder.layer.0.`` in a ``BertModel`` state dict or its
        ``model.safetensors``): ``attention.self.query.weight`` and so on.
        """
        def get(name: str) -> torch.Tensor:
            return tensors[prefix + name].detach()

        def take(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.detach().float().contiguous().clone()

        return cls(
            qkv_weight=take(torch.cat([get('attention.self.query.weight'),
                                       get('attention.self.key.weight'),
                                       get('attention.self.value.weight')])),
            qkv_bias=take(torch.cat([get('attention.self.query.bias'),
                                     get('attention.self.key.bias'),
                                     get('attention.self.value.bias')])),
            attention_out_weight=take(get('attention.output.dense.weight')),
            attention_out_bias=take(get('attention.output.dense.bias')),
            attention_norm_weight=take(get('attention.output.LayerNorm.weight')),
            attention_norm_bias=take(get('attention.output.LayerNorm.bias')),
            ffn_in_weight=take(get('intermediate.dense.weight')),
            ffn_in_bias=take(get('intermediate.dense.bias')),
            ffn_out_weight=take(get('output.dense.weight')),
            ffn_out_bias=take(get('output.dense.bias')),
            ffn_norm_weight=take(get('output.LayerNorm.weight')),
            ffn_norm_bias=take(get('output.LayerNorm.bias')),
            num_heads=num_heads,
            norm_eps=norm_eps,
        )

    @property
    def hidden_size(self) -> int:
        """Width of the hidden state."""
        return self.qkv_weight.shape[1]


Dense = Callable[[torch.Tensor], torch.Tensor]


def dense_fp32(weight: torch.Tensor, bias: torch.Tensor) -> Dense:
    """Return a linear map in fp32."""
    return lambda x: F.linear(x, weight, bias)


def dense_bf16(weight: torch.Tensor, bias: torch.Tensor) -> Dense:
    """Return a linear map with bf16 weights; expects bf16 input."""
    weight_bf16, bias_bf16 = weight.to(torch.bfloat16), bias.to(torch.bfloat16)
    return lambda x: F.linear(x, weight_bf16, bias_bf16)


def dense_int8(weight: torch.Tensor, bias: torch.Tensor) -> Dense:
    """
    Return a linear map with per-channel int8 weights and dynamically quantized fp32 input.

    fbgemm's dynamic int8 kernel; the quantized-tensor constructors warn that they are
    deprecated in torch 2.13, but they are the only int8 GEMM on this CPU that beats fp32.
    """
    scale = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
    zero_points = torch.zeros_like(scale, dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        quantized = torch.quantize_per_channel(weight, scale, zero_points, 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(quantized, bias)
    linear_dynamic = torch.ops.quantized.linear_dynamic
    return lambda x: linear_dynamic(x, packed)


def quantize_int4(weight: torch.Tensor, group_size: int = INT4_GROUP_SIZE):
    """
    Asymmetric 4-bit groupwise quantization of a [out, in] weight.

    Returns the codes (int32, 0..15) and torch's packed scale-and-zero tensor, with the
    convention of ``_weight_int4pack_mm_for_cpu``: w = (q - 8) * scale + zero.
    """
    out_features, in_features = weight.shape
    groups = weight.float().reshape(out_features, in_features // group_size, group_size)
    low = groups.amin(dim=-1, keepdim=True)
    high = groups.amax(dim=-1, keepdim=True)
    scale = ((high - low) / 15.0).clamp(min=1e-8)
    codes = ((groups - low) / scale).round().clamp(0, 15).to(torch.int32)
    zero = low + 8.0 * scale
    scales_and_zeros = torch.stack(
        [scale.reshape(out_features, -1), zero.reshape(out_features, -1)], dim=-1)
    return (codes.reshape(out_features, in_features),
            scales_and_zeros.transpose(0, 1).contiguous())


def dense_int4(weight: torch.Tensor, bias: torch.Tensor,
               group_size: int = INT4_GROUP_SIZE) -> Dense:
    """Return a linear map with weight-only int4 (torch's own CPU kernel); expects bf16 input."""
    codes, scales_and_zeros = quantize_int4(weight, group_size)
    packed = torch._convert_weight_to_int4pack_for_cpu(codes, 1)
    scales_and_zeros = scales_and_zeros.to(torch.bfloat16)
    bias_bf16 = bias.to(torch.bfloat16)
    int4_mm = torch._weight_int4pack_mm_for_cpu

    def apply(x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        out = int4_mm(rows, packed, group_size, scales_and_zeros) + bias_bf16
        return out.reshape(*x.shape[:-1], out.shape[-1])

    return apply


DENSE_BUILDERS = {'fp32': dense_fp32, 'bf16': dense_bf16, 'int8': dense_int8, 'int4': dense_int4}
COMPUTE_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'int8': torch.float32,
                  'int4': torch.bfloat16}


class TorchEncoderLayer:
    """One encoder layer at one precision on torch eager; fp32 in, fp32 out."""

    def __init__(self, weights: LayerWeights, precision: str):
        if precision not in DENSE_BUILDERS:
            raise ValueError(f'unknown precision {precision!r}; '
                             f'expected one of {sorted(DENSE_BUILDERS)}')
        build = DENSE_BUILDERS[precision]
        dtype = COMPUTE_DTYPES[precision]
        self.precision = precision
        self.dtype = dtype
        self.num_heads = weights.num_heads
        self.eps = weights.norm_eps
        self.hidden_size = weights.hidden_size
        self.qkv = build(weights.qkv_weight, weights.qkv_bias)
        self.attention_out = build(weights.attention_out_weight, weights.attention_out_bias)
        self.ffn_in = build(weights.ffn_in_weight, weights.ffn_in_bias)
        self.ffn_out = build(weights.ffn_out_weight, weights.ffn_out_bias)
        self.attention_norm = (weights.attention_norm_weight.to(dtype),
                               weights.attention_norm_bias.to(dtype))
        self.ffn_norm = (weights.ffn_norm_weight.to(dtype), weights.ffn_norm_bias.to(dtype))

    def __call__(self, hidden: torch.Tensor,
                 attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Run the layer.

        ``attention_mask`` is a boolean [batch, 1, 1, tokens] tensor (True = attend), or None
        when no token is padding (batch 1).
        """
        x = hidden if self.dtype == torch.float32 else hidden.to(self.dtype)
        batch, tokens, width = x.shape
        head_dim = width // self.num_heads
        qkv = self.qkv(x).view(batch, tokens, 3, self.num_heads, head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask)
        context = context.transpose(1, 2).reshape(batch, tokens, width)
        x = F.layer_norm(self.attention_out(context) + x, (width,), *self.attention_norm,
                         self.eps)
        inner = F.gelu(self.ffn_in(x))
        x = F.layer_norm(self.ffn_out(inner) + x, (width,), *self.ffn_norm, self.eps)
        return x if self.dtype == torch.float32 else x.float()
