"""
What a user would run instead of this package.

The library's own forward pass, and ONNX Runtime's CPU inference of the same model exported
whole (fp32, and dynamically quantized int8).

Both are answered by the same last-layer exit head as our ``full`` pass, so their accuracy
compares like for like.
"""

import pathlib
from typing import Sequence

from adaptive_nlp_ros.core.inference.text_models import TextModels
import numpy as np
import torch


class _WholeModel(torch.nn.Module):
    """The library model with plain tensor inputs and the last hidden state as output."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class LibraryForward:
    """The library's own forward pass (transformers BertModel, fp32, sdpa attention)."""

    def __init__(self, models: TextModels):
        from transformers import AutoModel

        self.models = models
        self.model = AutoModel.from_pretrained(
            str(models.directory / 'text' / 'backbone'), local_files_only=True).eval()

    def labels(self, texts: Sequence[str]) -> np.ndarray:
        """Return label ids from the last hidden state and the fp32 last exit head."""
        batch = self.models.tokenizer.encode(list(texts))
        with torch.inference_mode():
            hidden = self.model(input_ids=batch.input_ids,
                                attention_mask=batch.token_mask.long()).last_hidden_state
            return self.models.heads.probabilities(self.models.num_layers, hidden,
                                                   batch.token_mask).argmax(-1).numpy()


class OrtWholeGraph:
    """ONNX Runtime session of the whole model exported at once."""

    def __init__(self, models: TextModels, work_dir: pathlib.Path, precision: str,
                 threads: int):
        import onnxruntime as ort
        from transformers import AutoModel

        from adaptive_nlp_ros.core.inference.onnx_layers import quantize_to_int8, session_options

        self.models = models
        work_dir.mkdir(parents=True, exist_ok=True)
        fp32_path = work_dir / 'whole_fp32.onnx'
        int8_path = work_dir / 'whole_int8.onnx'
        if not fp32_path.exists():
            eager = AutoModel.from_pretrained(str(models.directory / 'text' / 'backbone'),
                                              local_files_only=True,
                                              attn_implementation='eager').eval()
            batch = models.tokenizer.encode(['go to the kitchen', 'stop'])
            with torch.inference_mode():
                torch.onnx.export(
                    _WholeModel(eager), (batch.input_ids, batch.token_mask.long()),
                    str(fp32_path), dynamo=False, opset_version=17,
                    input_names=['input_ids', 'attention_mask'],
                    output_names=['last_hidden_state'],
                    dynamic_axes={'input_ids': {0: 'batch', 1: 'tokens'},
                                  'attention_mask': {0: 'batch', 1: 'tokens'},
                                  'last_hidden_state': {0: 'batch', 1: 'tokens'}})
        if precision == 'int8' and not int8_path.exists():
            quantize_to_int8(fp32_path, int8_path)
        path = int8_path if precision == 'int8' else fp32_path
        self.session = ort.InferenceSession(str(path), session_options(threads),
                                            providers=['CPUExecutionProvider'])

    def hidden(self, texts: Sequence[str]) -> np.ndarray:
        """Return the last hidden state for a batch of texts (tokenization included)."""
        batch = self.models.tokenizer.encode(list(texts))
        (output,) = self.session.run(None, {
            'input_ids': batch.input_ids.numpy(),
            'attention_mask': batch.token_mask.long().numpy()})
        return output, batch

    def labels(self, texts: Sequence[str]) -> np.ndarray:
        """Return label ids from the last hidden state and the fp32 last exit head."""
        output, batch = self.hidden(texts)
        with torch.inference_mode():
            return self.models.heads.probabilities(
                self.models.num_layers, torch.from_numpy(output),
                batch.token_mask).argmax(-1).numpy()
