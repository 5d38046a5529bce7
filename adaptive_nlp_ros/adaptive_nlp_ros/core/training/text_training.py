"""
Fine-tuning the backbone jointly with the exit heads after every layer.

One loss for all exits, each weighted by its depth (as PABEE trains its internal
classifiers), so early layers learn to answer easy commands on their own while the last
layer stays as accurate as a plainly fine-tuned model. Each exit's loss is its sentence
cross-entropy plus, where lines carry actions, the cross-entropy of its three token tag
groups (action segments, argument roles, intents: ``structure_targets``) over the pieces
that have a target. The word-embedding table (half of the model's parameters) stays frozen:
it keeps the pretrained vocabulary intact for words the corpus never shows, and it halves
the optimizer's work on a 2-core machine.
"""

from dataclasses import dataclass
import logging
import random
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .calibration import expected_calibration_error, fit_temperature
from .structure_targets import batch_targets, IGNORE
from ..inference.exit_heads import ExitHeads
from ..inference.parse import ParsedAction, TagScheme
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
    token_loss_weight: float = 1.0       # each tag group's loss against the sentence loss
    word_dropout: float = 0.0            # share of word pieces shown as [MASK] while training
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
    return all_exit_outputs(library_model, heads, tokenizer, texts)[0]


def masked_pieces(input_ids: torch.Tensor, token_mask: torch.Tensor, share: float,
                  mask_id: int, generator: torch.Generator) -> torch.Tensor:
    """
    Return ``input_ids`` with about ``share`` of the word pieces replaced by ``mask_id``.

    Word dropout: a command whose verb the corpus never shows must still be read from the
    rest of it; [CLS], [SEP] and padding are never masked.
    """
    lengths = token_mask.sum(dim=1, keepdim=True)
    positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
    inner = token_mask & (positions > 0) & (positions < lengths - 1)
    drop = inner & (torch.rand(input_ids.shape, generator=generator) < share)
    return torch.where(drop, torch.full_like(input_ids, mask_id), input_ids)


def _word_dropout(tokenizer: CommandTokenizer, share: float,
                  seed: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Return the seeded input masking of ``fine_tune`` (``share`` of pieces as [MASK])."""
    generator = torch.Generator().manual_seed(seed)
    mask_id = tokenizer.token_id('[MASK]')
    return lambda input_ids, token_mask: masked_pieces(input_ids, token_mask, share, mask_id,
                                                       generator)


def all_exit_outputs(library_model: torch.nn.Module, heads: ExitHeads,
                     tokenizer: CommandTokenizer, texts: Sequence[str],
                     mask_input: Optional[Callable[[torch.Tensor, torch.Tensor],
                                                   torch.Tensor]] = None):
    """
    Return every exit's sentence and token logits, and each text's encoding.

    Via the library's forward pass; the token logits are None for heads without token heads.
    ``mask_input(input_ids, token_mask)`` may replace pieces before the pass (training only).
    """
    batch, encodings = tokenizer.encode_with_offsets(texts)
    input_ids = (batch.input_ids if mask_input is None
                 else mask_input(batch.input_ids, batch.token_mask))
    output = library_model(input_ids=input_ids,
                           attention_mask=batch.token_mask.long(),
                           output_hidden_states=True)
    hidden_states = output.hidden_states[1:]
    sentence = [heads.logits(layer, hidden, batch.token_mask)
                for layer, hidden in enumerate(hidden_states, start=1)]
    tokens = ([heads.token_logits(layer, hidden)
               for layer, hidden in enumerate(hidden_states, start=1)]
              if heads.structured else None)
    return sentence, tokens, encodings


def token_loss(logits: torch.Tensor, targets: torch.Tensor, scheme: TagScheme) -> torch.Tensor:
    """Sum over the three tag groups of the mean cross-entropy of the pieces with a target."""
    total = logits.new_zeros(())
    for group, part in enumerate(scheme.slices()):
        wanted = targets[..., group]
        if bool((wanted != IGNORE).any()):
            total = total + torch.nn.functional.cross_entropy(
                logits[..., part].reshape(-1, part.stop - part.start), wanted.reshape(-1),
                ignore_index=IGNORE)
    return total


def fine_tune(library_model: torch.nn.Module, tokenizer: CommandTokenizer,
              texts: Sequence[str], label_ids: Sequence[int], labels: Sequence[str],
              settings: FineTuneSettings = FineTuneSettings(),
              progress: Optional[Callable[[int, int, float], None]] = None,
              actions: Optional[Sequence[Optional[Sequence[ParsedAction]]]] = None,
              scheme: Optional[TagScheme] = None) -> ExitHeads:
    """
    Fine-tune ``library_model`` in place with exit heads; return the (uncalibrated) heads.

    :param actions: each text's actions (None where a line has none); with a ``scheme``,
        the heads get token heads trained on them.
    """
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    config = library_model.config
    heads = ExitHeads(config.num_hidden_layers, config.hidden_size, labels, scheme=scheme)
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
    mask_input = (_word_dropout(tokenizer, settings.word_dropout, settings.seed)
                  if settings.word_dropout > 0 else None)
    library_model.train()
    heads.train()
    step = 0
    for _ in range(settings.epochs):
        for batch_rows in _length_bucketed_batches(lengths, settings.batch_size, rng):
            exit_logits, token_logits, encodings = all_exit_outputs(
                library_model, heads, tokenizer, [texts[i] for i in batch_rows], mask_input)
            sentence_targets = targets[batch_rows]
            loss = sum(weight * torch.nn.functional.cross_entropy(
                logits, sentence_targets, label_smoothing=settings.label_smoothing)
                       for weight, logits in zip(depth_weights, exit_logits))
            if token_logits is not None:
                tags = torch.from_numpy(batch_targets(
                    encodings, [actions[i] for i in batch_rows], scheme,
                    token_logits[0].shape[1]))
                loss = loss + settings.token_loss_weight * sum(
                    weight * token_loss(logits, tags, scheme)
                    for weight, logits in zip(depth_weights, token_logits))
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


@torch.no_grad()
def calibrate_token_heads(library_model: torch.nn.Module, heads: ExitHeads,
                          tokenizer: CommandTokenizer, texts: Sequence[str],
                          actions: Sequence[Optional[Sequence[ParsedAction]]],
                          batch_size: int = 64) -> List[Dict[str, float]]:
    """Fit one temperature per exit and tag group on dev pieces; return accuracy per exit."""
    scheme = heads.scheme
    collected: List[List[List[torch.Tensor]]] = [[[], [], []] for _ in range(heads.num_layers)]
    wanted: List[List[torch.Tensor]] = [[], [], []]
    for start in range(0, len(texts), batch_size):
        chunk = list(range(start, min(len(texts), start + batch_size)))
        _, token_logits, encodings = all_exit_outputs(library_model, heads, tokenizer,
                                                      [texts[i] for i in chunk])
        tags = torch.from_numpy(batch_targets(encodings, [actions[i] for i in chunk], scheme,
                                              token_logits[0].shape[1]))
        for group, part in enumerate(scheme.slices()):
            keep = tags[..., group] != IGNORE
            wanted[group].append(tags[..., group][keep])
            for layer, logits in enumerate(token_logits):
                collected[layer][group].append(logits[..., part][keep])
    report = []
    for layer in range(heads.num_layers):
        row: Dict[str, float] = {'layer': layer + 1}
        for group, name in enumerate(('segment', 'role', 'intent')):
            targets = torch.cat(wanted[group])
            logits = torch.cat(collected[layer][group])
            if not len(targets):
                continue
            temperature = fit_temperature(logits, targets)
            heads.token_temperatures[layer, group] = temperature
            row[f'{name}_accuracy'] = float((logits.argmax(-1) == targets).float().mean())
            row[f'{name}_temperature'] = temperature
        report.append(row)
    return report


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
