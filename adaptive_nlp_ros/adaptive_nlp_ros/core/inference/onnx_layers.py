"""
Encoder layers as ONNX Runtime sessions, one session per layer and precision.

Each layer is exported on its own (fp32), then quantized to int8 with ONNX Runtime's dynamic
quantization, so a segment loop can run any layer on ONNX Runtime at fp32 or int8 and hand
its fp32 hidden state to a torch layer (or the other way round) at the border.
"""

import logging
import pathlib
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .encoder_layers import LayerWeights

LOG = logging.getLogger(__name__)

OPSET = 17


class _ExportableLayer(torch.nn.Module):
    """The same math as ``TorchEncoderLayer`` in fp32, in a form the ONNX exporter traces."""

    def __init__(self, weights: LayerWeights):
        super().__init__()
        self.num_heads = weights.num_heads
        self.width = weights.hidden_size
        self.head_dim = self.width // self.num_heads
        self.eps = weights.norm_eps
        for name in ('qkv_weight', 'qkv_bias', 'attention_out_weight', 'attention_out_bias',
                     'attention_norm_weight', 'attention_norm_bias', 'ffn_in_weight',
                     'ffn_in_bias', 'ffn_out_weight', 'ffn_out_bias', 'ffn_norm_weight',
                     'ffn_norm_bias'):
            self.register_buffer(name, getattr(weights, name).clone())

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        width = self.width
        qkv = F.linear(hidden, self.qkv_weight, self.qkv_bias)
        qkv = qkv.reshape(hidden.shape[0], -1, 3, self.num_heads, self.head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(query, key.transpose(-1, -2)) * (self.head_dim ** -0.5)
        probabilities = torch.softmax(scores + additive_mask, dim=-1)
        context = torch.matmul(probabilities, value).transpose(1, 2)
        context = context.reshape(hidden.shape[0], -1, width)
        x = F.layer_norm(F.linear(context, self.attention_out_weight, self.attention_out_bias)
                         + hidden, (width,), self.attention_norm_weight,
                         self.attention_norm_bias, self.eps)
        inner = F.gelu(F.linear(x, self.ffn_in_weight, self.ffn_in_bias))
        return F.layer_norm(F.linear(inner, self.ffn_out_weight, self.ffn_out_bias) + x,
                            (width,), self.ffn_norm_weight, self.ffn_norm_bias, self.eps)


def export_layer(weights: LayerWeights, fp32_path: pathlib.Path,
                 int8_path: Optional[pathlib.Path] = None) -> None:
    """Export one layer to ONNX at fp32 and, when asked, its dynamically quantized int8 copy."""
    module = _ExportableLayer(weights).eval()
    hidden = torch.zeros(2, 7, weights.hidden_size)
    mask = torch.zeros(2, 1, 1, 7)
    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(
            module, (hidden, mask), str(fp32_path), dynamo=False, opset_version=OPSET,
            input_names=['hidden', 'additive_mask'], output_names=['output'],
            dynamic_axes={'hidden': {0: 'batch', 1: 'tokens'},
                          'additive_mask': {0: 'batch', 3: 'tokens'},
                          'output': {0: 'batch', 1: 'tokens'}})
    if int8_path is not None:
        quantize_to_int8(fp32_path, int8_path)


def quantize_to_int8(fp32_path: pathlib.Path, int8_path: pathlib.Path) -> None:
    """Write ONNX Runtime's dynamic int8 quantization (per-channel weights) of a model."""
    from onnxruntime.quantization import quantize_dynamic, QuantType

    # The quantizer logs a line per tensor through the root logger: keep it quiet.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8,
                         per_channel=True)
    finally:
        root.setLevel(level)


def session_options(threads: int, memory_arena: bool = True):
    """
    ONNX Runtime options for latency at small batch: sequential, all graph optimizations.

    ``memory_arena=False`` gives the session no CPU memory arena of its own: the per-layer
    sessions use it, where twelve arenas (one per session) held about 16 MB the controller
    never gives back, for no measurable latency at batch 1 or 32 (same outputs, bit for bit).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = memory_arena
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Chained per-layer sessions each own a thread pool; spinning pools starve one another
    # (and torch's) on a 2-core machine, turning a 1.8 ms pass into 17 ms.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return options


class OrtEncoderLayer:
    """One encoder layer as an ONNX Runtime session; fp32 torch tensor in, fp32 tensor out."""

    def __init__(self, model_path: pathlib.Path, precision: str, threads: int = 1):
        import onnxruntime as ort

        self.precision = precision
        self.model_path = model_path
        self.session = ort.InferenceSession(str(model_path),
                                            session_options(threads, memory_arena=False),
                                            providers=['CPUExecutionProvider'])

    def __call__(self, hidden: torch.Tensor,
                 attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Run the layer; ``attention_mask`` as for ``TorchEncoderLayer`` (bool, or None)."""
        batch, tokens = hidden.shape[0], hidden.shape[1]
        if attention_mask is None:
            additive = np.zeros((batch, 1, 1, tokens), dtype=np.float32)
        else:
            additive = np.where(attention_mask.numpy(), 0.0, -1e4).astype(np.float32)
        hidden_np = np.ascontiguousarray(hidden.detach().numpy(), dtype=np.float32)
        (output,) = self.session.run(None, {'hidden': hidden_np, 'additive_mask': additive})
        return torch.from_numpy(output)
