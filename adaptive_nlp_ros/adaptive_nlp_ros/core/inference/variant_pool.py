"""
The pool of whole-model variants that coarse strategies choose from, with stable ids.

A MiniLM variant is the backbone truncated to its first ``layers`` layers, every layer run in
one execution mode, answered by the exit head after its last layer. Execution modes name a
precision and a backend: ``fp32``, ``bf16``, ``int8``, ``int4`` run on torch; ``ort_fp32`` and
``ort_int8`` on ONNX Runtime.
"""

from dataclasses import dataclass
from typing import Dict, List, Tuple

MODES: Dict[str, Tuple[str, str]] = {
    'fp32': ('fp32', 'torch'),
    'bf16': ('bf16', 'torch'),
    'int8': ('int8', 'torch'),
    'int4': ('int4', 'torch'),
    'ort_fp32': ('fp32', 'onnxruntime'),
    'ort_int8': ('int8', 'onnxruntime'),
}
TORCH_MODES = ('fp32', 'bf16', 'int8', 'int4')
ORT_MODES = ('ort_fp32', 'ort_int8')
REFERENCE_MODE = 'fp32'
TFIDF_VARIANT = 'tfidf_logreg'


def mode_precision(mode: str) -> str:
    """Return the precision (fp32 | bf16 | int8 | int4) of an execution mode."""
    return MODES[mode][0]


def mode_backend(mode: str) -> str:
    """Return the backend (torch | onnxruntime) of an execution mode."""
    return MODES[mode][1]


@dataclass(frozen=True)
class Variant:
    """One whole model the coarse strategies can pick."""

    variant_id: str
    kind: str                        # 'tfidf' or 'minilm'
    layers: int                      # encoder layers run; 0 for tfidf
    mode: str                        # execution mode of every layer; '' for tfidf

    @property
    def precision(self) -> str:
        """Precision of the variant's layers ('fp32' for tfidf, which runs in numpy fp32)."""
        return mode_precision(self.mode) if self.mode else 'fp32'


def minilm_variant_id(layers: int, mode: str) -> str:
    """Stable id, e.g. ``minilm_l4_ort_int8``."""
    return f'minilm_l{layers}_{mode}'


def default_variants(num_layers: int = 6) -> List[Variant]:
    """Return the default pool: TF-IDF, MiniLM cut to 1/3 and 2/3 depth, full depth per mode."""
    variants = [Variant(TFIDF_VARIANT, 'tfidf', 0, '')]
    for layers in (num_layers // 3, 2 * num_layers // 3):
        for mode in ('fp32', 'ort_int8'):
            variants.append(Variant(minilm_variant_id(layers, mode), 'minilm', layers, mode))
    for mode in MODES:
        variants.append(Variant(minilm_variant_id(num_layers, mode), 'minilm', num_layers, mode))
    return variants
