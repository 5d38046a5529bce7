"""
Training the image BranchyNet on scikit-learn's digits: a joint loss over every exit.

The digits (1,797 8x8, bundled with scikit-learn, no download) are mapped from 0..16 to
mono8 0..255 and split 60/20/20 train/dev/test, stratified, with their own seed
(``DIGIT_SPLIT_SEED``), independent of the training seed and saved with the model, so
whatever seed trained a model, its held-out digits are known and never trained on. The loss
is a weighted sum of the cross-entropy of every exit; every exit is then temperature-scaled
on dev (``inference/image_branchynet.py`` holds the network and its classifier).
"""

import contextlib
import logging
import math
import pathlib
import time
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as functional

from .calibration import (expected_calibration_error, fit_temperature, MAX_TEMPERATURE,
                          MIN_TEMPERATURE)
from ..inference.image_branchynet import (BranchyNet, BranchyNetClassifier, INPUT_SIZE_PX,
                                          preprocess_mono8_stack, STAGE_CHANNELS)

logger = logging.getLogger(__name__)

EXIT_LOSS_WEIGHTS = (1.0, 0.6, 1.0)    # joint loss: exit 1 counts as much as the last
DEFAULT_EPOCHS = 30
GATE_CONFIDENCE = 0.8                  # as the text gate: an exit counts when right and this sure
DIGIT_SPLIT_SEED = 7                   # the train/dev/test split, whatever seed trains the net
_BATCH_SIZE = 64
_LEARNING_RATE = 1e-2                  # peak of the one-cycle schedule
_WEIGHT_DECAY = 1e-4
_SHIFT_PX = 1                          # augmentation: each batch shifted by up to 1 px each way


def digits_to_mono8(images: np.ndarray) -> np.ndarray:
    """Map scikit-learn digits (0..16) to mono8 (0..255), the form a camera node sends."""
    return np.rint(np.asarray(images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)


def load_digit_splits(seed: int = DIGIT_SPLIT_SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """
    Split the bundled digits 60/20/20, stratified and seeded: uint8 Nx8x8 images, int labels.

    Training, tests and benchmarks all call this, so they agree on which digits are held out.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits_to_mono8(digits.images)
    labels = digits.target.astype(np.int64)
    rest_x, test_x, rest_y, test_y = train_test_split(
        images, labels, test_size=0.2, stratify=labels, random_state=seed)
    train_x, dev_x, train_y, dev_y = train_test_split(
        rest_x, rest_y, test_size=0.25, stratify=rest_y, random_state=seed)
    return {'train': (train_x, train_y), 'dev': (dev_x, dev_y), 'test': (test_x, test_y)}


def _exit_report(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> dict:
    """Accuracy, NLL and ECE of one exit, before and after temperature scaling."""
    raw = torch.softmax(logits, dim=1).numpy()
    scaled = torch.softmax(logits / temperature, dim=1).numpy()
    truth = labels.numpy()
    return {
        'accuracy': float((raw.argmax(axis=1) == truth).mean()),
        'nll_before': float(functional.cross_entropy(logits, labels)),
        'nll_after': float(functional.cross_entropy(logits / temperature, labels)),
        'ece_before': expected_calibration_error(raw, truth),
        'ece_after': expected_calibration_error(scaled, truth),
    }


def _shifted(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift a batch by one random offset of up to _SHIFT_PX each way, filling with background."""
    if _SHIFT_PX == 0:
        return batch
    size_px = batch.shape[-1]
    padded = functional.pad(batch, (_SHIFT_PX,) * 4)
    top, left = torch.randint(0, 2 * _SHIFT_PX + 1, (2,), generator=generator).tolist()
    return padded[:, :, top:top + size_px, left:left + size_px]


@contextlib.contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run a block with torch's intra-op thread count set, restoring the caller's after it."""
    caller_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(caller_threads)


def _train_network(train_x: torch.Tensor, train_y: torch.Tensor, seed: int, epochs: int,
                   progress: bool) -> BranchyNet:
    """Fit a fresh BranchyNet with the weighted sum of the exits' cross-entropies (BranchyNet)."""
    generator = torch.Generator().manual_seed(seed)
    network = BranchyNet(STAGE_CHANNELS, INPUT_SIZE_PX)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=_LEARNING_RATE, weight_decay=_WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=_LEARNING_RATE, pct_start=0.2,
        total_steps=epochs * math.ceil(len(train_y) / _BATCH_SIZE))
    network.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train_y), generator=generator)
        total_loss = 0.0
        for first in range(0, len(order), _BATCH_SIZE):
            batch = order[first:first + _BATCH_SIZE]
            exits = network(_shifted(train_x[batch], generator))
            loss = sum(weight * functional.cross_entropy(logits, train_y[batch])
                       for weight, logits in zip(EXIT_LOSS_WEIGHTS, exits))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(batch)
        if progress:
            logger.info('epoch %d/%d: joint loss %.4f', epoch + 1, epochs,
                        total_loss / len(train_y))
    return network.eval()


def exit_prior_gate(dev_logits, temperatures, dev_y: torch.Tensor,
                    confident: float = GATE_CONFIDENCE) -> dict:
    """
    Return ``moe_gate``'s gate for images: a prior over the exits, learned on dev.

    An image has no cheap first look (text has the TF-IDF model), so the gate reads no
    features: its bias is the log share of dev digits for which each exit is the cheapest
    that is right with calibrated confidence >= ``confident`` (the last exit when none is),
    with one count added per exit.
    """
    exits = len(dev_logits)
    counts = np.ones(exits)
    right = []
    for logits, temperature in zip(dev_logits, temperatures):
        probabilities = torch.softmax(logits / temperature, dim=1)
        best, predicted = probabilities.max(dim=1)
        right.append(((predicted == dev_y) & (best >= confident)).numpy())
    right = np.stack(right)
    for column in range(right.shape[1]):
        hits = np.nonzero(right[:, column])[0]
        counts[int(hits[0]) if len(hits) else exits - 1] += 1
    return {'experts': [f'branchynet_exit{index}' for index in range(1, exits + 1)],
            'weights': [[] for _ in range(exits)],
            'bias': np.log(counts / counts.sum()).tolist()}


def train_branchynet(out_dir: pathlib.Path, seed: int = 7, epochs: int = DEFAULT_EPOCHS,
                     progress: bool = False, num_threads: int | None = 1,
                     split_seed: int = DIGIT_SPLIT_SEED) -> dict:
    """
    Train on the digits with the joint loss, calibrate every exit on dev, save; return a report.

    ``seed`` initialises and shuffles the training; ``split_seed`` chooses the held-out digits.
    Seeded and reproducible for one machine and thread count; the caller's torch random state
    is left untouched. ``num_threads`` sets torch's intra-op threads while training (restored
    afterwards; None keeps the current setting). One thread is the default: about 11 s here
    against 8 s for two on an idle machine, but two threads slow down tenfold and more as soon
    as another process loads the cores. The report holds per-exit accuracy, NLL and ECE
    (15 bins) before and after calibration on dev and test, the temperatures, MACs per stage
    and exit, and the training time.
    """
    start_s = time.perf_counter()
    splits = load_digit_splits(split_seed)
    tensors = {name: (preprocess_mono8_stack(images), torch.from_numpy(labels))
               for name, (images, labels) in splits.items()}
    with _torch_threads(num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = _train_network(*tensors['train'], seed, epochs, progress)
        train_s = time.perf_counter() - start_s
        with torch.inference_mode():
            logits = {name: network(x) for name, (x, _) in tensors.items()}
    dev_y, test_y = tensors['dev'][1], tensors['test'][1]
    temperatures = [fit_temperature(exit_logits, dev_y) for exit_logits in logits['dev']]
    for exit_index, temperature in enumerate(temperatures, start=1):
        if not MIN_TEMPERATURE * 1.01 < temperature < MAX_TEMPERATURE * 0.99:
            logger.warning('exit %d: temperature %.3f at the bound of the fit (dev split too '
                           'easy or too hard for calibration)', exit_index, temperature)
    reports = {
        name: [_exit_report(exit_logits, labels, temperature)
               for exit_logits, temperature in zip(logits[name], temperatures)]
        for name, labels in (('dev', dev_y), ('test', test_y))}
    classifier = BranchyNetClassifier(
        network, temperatures, INPUT_SIZE_PX, [entry['accuracy'] for entry in reports['dev']],
        split_seed, exit_prior_gate(logits['dev'], temperatures, dev_y))
    classifier.save(out_dir)
    report = {
        'seed': seed,
        'split_seed': split_seed,
        'epochs': epochs,
        'train_seconds': train_s,
        'split_sizes': {name: int(len(labels)) for name, (_, labels) in splits.items()},
        'input_size_px': INPUT_SIZE_PX,
        'stage_channels': list(STAGE_CHANNELS),
        'stage_macs': list(classifier.stage_macs),
        'exit_macs': list(classifier.exit_macs),
        'temperatures': temperatures,
        'test_accuracy': [entry['accuracy'] for entry in reports['test']],
        'dev': reports['dev'],
        'test': reports['test'],
    }
    logger.info('BranchyNet trained in %.1f s; test accuracy per exit %s; saved to %s',
                train_s, ', '.join(f'{a:.3f}' for a in report['test_accuracy']), out_dir)
    return report
