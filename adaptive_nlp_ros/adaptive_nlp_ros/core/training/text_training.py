"""
Fine-tuning the backbone jointly with an exit head after every layer.

One loss for all exits, each weighted by its depth (as PABEE trains its internal
classifiers), so early layers learn to answer easy commands on their own while the last
layer stays as accurate as a plainly fine-tuned model. The word-embedding table (half of
the model's parameters) stays frozen: it keeps the pretrained vocabulary intact for words
the corpus never shows, and it halves the optimizer's work on a 2-core machine.
"""

from dataclasses import dataclass
import logging
import random
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .calibration import expected_calibration_error, fit_temperature
from ..inference.exit_heads import ExitHeads
from ..inference.text_backbone import CommandTokenizer

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneSettings:
    """Hyper-parameters of the joint fine-tuning; defaults fit the 3-minute build target."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4
    head_learning_rate: float = 2e-3
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    freeze_word_embeddings: bool = True
    label_smoothing: float = 0.1
    seed: int = 13


def _length_bucketed_batches(lengths: Sequence[int], batch_size: int,
                             rng: random.Random) -> List[List[int]]:
    """Shuffled batches of similar length, so little compute goes to padding."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 20
    batches: List[List[int]] = []
    for start in range(0, len(order), chunk):
        window = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        batches.extend(window[i:i + batch_size] for i in range(0, len(window), batch_size))
    rng.shuffle(batches)
    return batches


def all_exit_logits(library_model: torch.nn.Module, heads: ExitHeads,
                    tokenizer: CommandTokenizer, texts: Sequence[str]) -> List[torch.Tensor]:
    """Logits of every exit for a batch of texts, via the library's forward pass."""
    batch = tokenizer.encode(texts)
    output = library_model(input_ids=batch.input_ids,
                           attention_mask=batch.token_mask.long(),
                           output_hidden_states=True)
    return [heads.logits(layer, hidden, batch.token_mask)
            for layer, hidden in enumerate(output.hidden_states[1:], start=1)]


def fine_tune(library_model: torch.nn.Module, tokenizer: CommandTokenizer,
              texts: Sequence[str], label_ids: Sequence[int], labels: Sequence[str],
              settings: FineTuneSettings = FineTuneSettings(),
              progress: Optional[Callable[[int, int, float], None]] = None) -> ExitHeads:
    """Fine-tune ``library_model`` in place with exit heads; return the (uncalibrated) heads."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    config = library_model.config
    heads = ExitHeads(config.num_hidden_layers, config.hidden_size, labels)
    library_model.embeddings.word_embeddings.weight.requires_grad_(
        not settings.freeze_word_embeddings)
    backbone_parameters = [p for p in library_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{'params': backbone_parameters, 'lr': settings.learning_rate},
         {'params': heads.parameters(), 'lr': settings.head_learning_rate}],
        weight_decay=settings.weight_decay)
    lengths = [tokenizer.count_tokens(text) for text in texts]
    steps_per_epoch = -(-len(texts) // settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    warmup = max(1, int(total_steps * settings.warmup_fraction))
    decay_steps = max(1, total_steps - warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup,
                                    max(0.0, (total_steps - step) / decay_steps)))
    depth_weights = torch.arange(1, heads.num_layers + 1, dtype=torch.float32)
    depth_weights = depth_weights / depth_weights.sum()
    targets = torch.tensor(label_ids, dtype=torch.long)
    library_model.train()
    heads.train()
    step = 0
    for _ in range(settings.epochs):
        for batch_rows in _length_bucketed_batches(lengths, settings.batch_size, rng):
            exit_logits = all_exit_logits(library_model, heads, tokenizer,
                                          [texts[i] for i in batch_rows])
            batch_targets = targets[batch_rows]
            loss = sum(weight * torch.nn.functional.cross_entropy(
                logits, batch_targets, label_smoothing=settings.label_smoothing)
                       for weight, logits in zip(depth_weights, exit_logits))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(backbone_parameters, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if progress is not None:
                progress(step, total_steps, float(loss.detach()))
    library_model.eval()
    heads.eval()
    return heads


@torch.no_grad()
def exit_logits_dataset(library_model: torch.nn.Module, heads: ExitHeads,
                        tokenizer: CommandTokenizer, texts: Sequence[str],
                        batch_size: int = 64) -> torch.Tensor:
    """Logits of every exit for every text: [layers, texts, labels]."""
    per_batch = [torch.stack(all_exit_logits(library_model, heads, tokenizer,
                                             texts[start:start + batch_size]))
                 for start in range(0, len(texts), batch_size)]
    return torch.cat(per_batch, dim=1)


def calibrate(heads: ExitHeads, dev_logits: torch.Tensor,
              dev_label_ids: Sequence[int]) -> List[Dict[str, float]]:
    """Fit one temperature per exit on dev; return per-exit accuracy and ECE before/after."""
    targets = torch.tensor(dev_label_ids, dtype=torch.long)
    report = []
    for index in range(heads.num_layers):
        logits = dev_logits[index]
        temperature = fit_temperature(logits, targets)
        heads.temperatures[index] = temperature
        before = torch.softmax(logits, dim=-1).numpy()
        after = torch.softmax(logits / temperature, dim=-1).numpy()
        report.append({
            'layer': index + 1,
            'dev_accuracy': float((before.argmax(1) == targets.numpy()).mean()),
            'temperature': temperature,
            'ece_before': expected_calibration_error(before, targets.numpy()),
            'ece_after': expected_calibration_error(after, targets.numpy()),
        })
    return report
