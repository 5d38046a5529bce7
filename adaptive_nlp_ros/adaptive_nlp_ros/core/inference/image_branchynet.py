"""
BranchyNet CNN for image commands: small mono8 digits answered at the cheapest confident exit.

The network is three convolution stages with an exit head after each. Stages 1 and 2 are cheap
(one strided convolution each) and carry small side classifiers; stage 3 is the heavy one (two
wide convolutions) and ends in the final classifier, so leaving at exit 1 costs a small fraction
of the full network. Every exit is temperature-scaled on a dev split, so a confidence threshold
is a probability: :meth:`BranchyNetClassifier.classify` runs stage 1, asks exit 1, leaves as
soon as the calibrated confidence reaches the threshold, and otherwise runs the next stage; the
last exit always answers.

Input convention: a ``mono8`` image of any size (2-D ``uint8`` array, HxW) showing **light
strokes on a dark background**, like scikit-learn's digits. Dark-on-light images (ink on paper)
must be inverted by the caller first (``255 - image``). Every image, the training digits
included, takes one path (:func:`preprocess_mono8`): scale to 0..1, then resize to
``INPUT_SIZE_PX`` square with bilinear interpolation, antialiased (area-like) when shrinking.
The aspect ratio is not kept: a 100x60 image is squeezed to 16x16.

Training (on scikit-learn's digits, with a joint loss over every exit) is
``training/image_training.py``.
"""

import copy
from dataclasses import dataclass
import json
import pathlib
from typing import Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as functional

LABELS = tuple(f'digit_{digit}' for digit in range(10))
INPUT_SIZE_PX = 16
STAGE_CHANNELS = (16, 32, 192)
TOP_K = 3
WEIGHTS_FILE = 'branchynet.pt'
CONFIG_FILE = 'branchynet.json'


@dataclass(frozen=True)
class ImageClassification:
    """The answer for one image, and how much of the network it took."""

    label: str                           # 'digit_0' .. 'digit_9'
    confidence: float                    # calibrated probability of ``label``, answering exit
    top_labels: tuple[str, ...]          # best first, TOP_K of them
    top_scores: tuple[float, ...]        # calibrated probabilities of ``top_labels``
    exit_index: int                      # 1-based answering exit = number of stages that ran
    num_exits: int
    exit_confidences: tuple[float, ...]  # calibrated confidence of each exit evaluated, in order


def preprocess_mono8(image: np.ndarray, input_size_px: int = INPUT_SIZE_PX) -> torch.Tensor:
    """
    Turn one mono8 image (HxW uint8, any size) into the network input, 1x1xSxS in 0..1.

    Raises ValueError for anything that is not a non-empty 2-D uint8 array, so a caller can
    reject the command with that reason.
    """
    array = np.asarray(image)
    if array.ndim != 2 or array.dtype != np.uint8 or array.size == 0:
        raise ValueError(
            f'expected a non-empty 2-D uint8 (mono8) image, got shape {array.shape} '
            f'and dtype {array.dtype}')
    pixels = torch.from_numpy(array.astype(np.float32)).mul_(1.0 / 255.0)
    return _resize(pixels.view(1, 1, *array.shape), input_size_px)


def preprocess_mono8_stack(images: np.ndarray, input_size_px: int = INPUT_SIZE_PX
                           ) -> torch.Tensor:
    """Preprocess N same-size mono8 images (NxHxW uint8) as :func:`preprocess_mono8` does."""
    array = np.asarray(images)
    if array.ndim != 3 or array.dtype != np.uint8 or array.size == 0:
        raise ValueError(f'expected a non-empty NxHxW uint8 stack, got shape {array.shape}')
    pixels = torch.from_numpy(array.astype(np.float32)).mul_(1.0 / 255.0)
    return _resize(pixels.unsqueeze(1), input_size_px)


def _resize(pixels: torch.Tensor, input_size_px: int) -> torch.Tensor:
    """Resize Nx1xHxW to the square input: bilinear, antialiased (area-like) when shrinking."""
    height, width = pixels.shape[-2:]
    if height == width == input_size_px:
        return pixels
    shrinking = height > input_size_px or width > input_size_px
    return functional.interpolate(pixels, size=(input_size_px, input_size_px), mode='bilinear',
                                  align_corners=False, antialias=shrinking)


class ExitHead(nn.Linear):
    """A side or final classifier: one linear layer on the flattened stage output."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Logits, NxC, for a stage output NxCxHxW."""
        return functional.linear(h.flatten(1), self.weight, self.bias)


class BranchyNet(nn.Module):
    """
    Three convolution stages with an exit head after each; the last stage is the heavy one.

    For a 16x16 input: stage 1 is a strided 3x3 convolution to 8x8, stage 2 another to 4x4,
    stage 3 two 3x3 convolutions at 4x4 with the most channels, then a 2x2 max-pool.
    """

    def __init__(self, stage_channels: Sequence[int] = STAGE_CHANNELS,
                 input_size_px: int = INPUT_SIZE_PX, num_classes: int = len(LABELS)):
        super().__init__()
        if input_size_px % 8:
            raise ValueError('input_size_px must be a multiple of 8 (three 2x reductions)')
        first, second, third = stage_channels
        self.stages = nn.ModuleList([
            nn.Sequential(nn.Conv2d(1, first, 3, stride=2, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(first, second, 3, stride=2, padding=1), nn.ReLU()),
            nn.Sequential(
                nn.Conv2d(second, third, 3, padding=1), nn.ReLU(),
                nn.Conv2d(third, third, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        ])
        self.exits = nn.ModuleList([
            ExitHead(first * (input_size_px // 2) ** 2, num_classes),
            ExitHead(second * (input_size_px // 4) ** 2, num_classes),
            ExitHead(third * (input_size_px // 8) ** 2, num_classes),
        ])

    @property
    def num_exits(self) -> int:
        """Return the number of exits, one per stage."""
        return len(self.exits)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits of every exit for a batch, for training and calibration (no early exit)."""
        logits = []
        h = x
        for stage, head in zip(self.stages, self.exits):
            h = stage(h)
            logits.append(head(h))
        return tuple(logits)


def count_macs(network: BranchyNet, input_size_px: int = INPUT_SIZE_PX
               ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Multiply-accumulates per image of each stage and of each exit head, from layer shapes."""
    stage_macs = []
    exit_macs = []
    h = torch.zeros(1, 1, input_size_px, input_size_px)
    with torch.inference_mode():
        for stage, head in zip(network.stages, network.exits):
            macs = 0
            for layer in stage:
                output = layer(h)
                macs += _layer_macs(layer, output)
                h = output
            stage_macs.append(macs)
            exit_macs.append(_layer_macs(head, head(h)))
    return tuple(stage_macs), tuple(exit_macs)


def _layer_macs(layer: nn.Module, output: torch.Tensor) -> int:
    """Count the MACs of a convolution or linear layer from its batch-1 output; 0 for others."""
    if isinstance(layer, nn.Conv2d):
        kernel_h, kernel_w = layer.kernel_size
        return output.numel() * (layer.in_channels // layer.groups) * kernel_h * kernel_w
    if isinstance(layer, nn.Linear):
        return output.numel() * layer.in_features
    return 0


class BranchyNetClassifier:
    """
    A trained, calibrated BranchyNet that answers mono8 images at the first confident exit.

    Holds no per-call state: ``classify`` may be called from several threads.
    """

    def __init__(self, network: BranchyNet, temperatures: Sequence[float],
                 input_size_px: int = INPUT_SIZE_PX, dev_accuracy: Sequence[float] = (),
                 split_seed: int | None = None, gate: dict | None = None):
        if len(temperatures) != network.num_exits:
            raise ValueError('need one temperature per exit')
        network.eval()
        network.requires_grad_(False)
        self.labels: list[str] = list(LABELS)
        self.num_exits: int = network.num_exits
        self.input_size_px = input_size_px
        self.temperatures: tuple[float, ...] = tuple(float(t) for t in temperatures)
        self.dev_accuracy: tuple[float, ...] = tuple(float(a) for a in dev_accuracy)
        # load_digit_splits(split_seed)['test'] was held out; None: not recorded (older model)
        self.split_seed = split_seed
        self.gate = gate                 # moe_gate's prior over the exits, learned on dev
        self.stage_macs, self.exit_macs = count_macs(network, input_size_px)
        self._network = network
        self._stages = tuple(network.stages)
        self._exits = tuple(network.exits)
        # 1/T folded into copies of the heads: calibration costs nothing per call.
        self._calibrated_exits = tuple(
            _scaled_head(head, 1.0 / temperature)
            for head, temperature in zip(network.exits, self.temperatures))

    @property
    def network(self) -> BranchyNet:
        """Return the underlying torch module (eval mode, frozen), for export and profiling."""
        return self._network

    @classmethod
    def load(cls, directory: pathlib.Path) -> 'BranchyNetClassifier':
        """Load weights and calibration written by :meth:`save`."""
        directory = pathlib.Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        if list(config['labels']) != list(LABELS):
            raise ValueError(f'{directory}: unexpected labels {config["labels"]}')
        network = BranchyNet(config['stage_channels'], config['input_size_px'])
        state = torch.load(directory / WEIGHTS_FILE, map_location='cpu', weights_only=True)
        network.load_state_dict(state)
        return cls(network, config['temperatures'], config['input_size_px'],
                   config.get('dev_accuracy', ()), config.get('split_seed'),
                   config.get('gate'))

    def save(self, directory: pathlib.Path) -> None:
        """Write the state dict and a small JSON (architecture, temperatures, dev accuracy)."""
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self._network.state_dict(), directory / WEIGHTS_FILE)
        config = {
            'labels': self.labels,
            'input_size_px': self.input_size_px,
            'input_convention': 'mono8, light strokes on a dark background',
            'stage_channels': [stage[0].out_channels for stage in self._stages],
            'temperatures': list(self.temperatures),
            'dev_accuracy': list(self.dev_accuracy),
            'split_seed': self.split_seed,
            'gate': self.gate,
            'stage_macs': list(self.stage_macs),
            'exit_macs': list(self.exit_macs),
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + '\n')

    def macs_for(self, exit_index: int, min_exit: int = 1) -> int:
        """Count the MACs of one answer at ``exit_index``, heads evaluated from ``min_exit``."""
        return sum(self.stage_macs[:exit_index]) + sum(self.exit_macs[min_exit - 1:exit_index])

    def classify(self, image: np.ndarray, confidence_threshold: float, min_exit: int = 1,
                 max_exit: int | None = None) -> ImageClassification:
        """
        Answer one mono8 image at the first exit >= ``min_exit`` confident enough.

        Exits before ``min_exit`` are not evaluated. A threshold of 0 answers at ``min_exit``;
        a threshold above 1 (or NaN) runs every stage up to ``max_exit`` (default: the last),
        whose exit always answers. Raises ValueError for a bad image or exit range.
        """
        last_exit = self._last_exit(min_exit, max_exit)
        x = preprocess_mono8(image, self.input_size_px)
        confidences = []
        with torch.inference_mode():
            h = x
            for exit_index in range(1, last_exit + 1):
                h = self._stages[exit_index - 1](h)
                if exit_index < min_exit:
                    continue
                probabilities = torch.softmax(self._calibrated_exits[exit_index - 1](h)[0], 0)
                confidence = float(probabilities.max())
                confidences.append(confidence)
                if confidence >= confidence_threshold:
                    break
            # min_exit <= last_exit, so at least one exit ran and set ``probabilities``.
            return self._result(probabilities, exit_index, confidences)

    def classify_batch(self, images: Sequence[np.ndarray], confidence_threshold: float,
                       min_exit: int = 1, max_exit: int | None = None
                       ) -> list[ImageClassification]:
        """
        Answer several images (sizes may differ) with the per-image rule of :meth:`classify`.

        Only images still undecided run the next stage. Labels and exits equal one-at-a-time
        ones except where a confidence lies within float rounding of the threshold.
        """
        last_exit = self._last_exit(min_exit, max_exit)
        if len(images) == 0:
            return []
        x = torch.cat([preprocess_mono8(image, self.input_size_px) for image in images])
        results: list[ImageClassification | None] = [None] * len(images)
        confidences: list[list[float]] = [[] for _ in images]
        pending = list(range(len(images)))       # image index of each row of ``h``
        with torch.inference_mode():
            h = x
            for exit_index in range(1, last_exit + 1):
                h = self._stages[exit_index - 1](h)
                if exit_index < min_exit:
                    continue
                probabilities = torch.softmax(self._calibrated_exits[exit_index - 1](h), 1)
                row_confidences = probabilities.max(dim=1).values.tolist()
                staying = []
                for row, image_index in enumerate(pending):
                    confidences[image_index].append(row_confidences[row])
                    if row_confidences[row] >= confidence_threshold or exit_index == last_exit:
                        results[image_index] = self._result(
                            probabilities[row], exit_index, confidences[image_index])
                    else:
                        staying.append(row)
                if not staying:
                    break
                pending = [pending[row] for row in staying]
                h = h[staying]
        return [result for result in results if result is not None]

    def run_stage(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Run one stage (1-based) alone on its input; for profiling and external loops."""
        with torch.inference_mode():
            return self._stages[stage - 1](x)

    def exit_logits(self, exit_index: int, h: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits (NxC) of one exit head (1-based) on its stage's output."""
        with torch.inference_mode():
            return self._exits[exit_index - 1](h)

    def exit_probabilities(self, exit_index: int, h: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (NxC) of one exit head (1-based)."""
        with torch.inference_mode():
            return torch.softmax(self._calibrated_exits[exit_index - 1](h), 1)

    def _last_exit(self, min_exit: int, max_exit: int | None) -> int:
        """Check the exit range and return the last exit that may run."""
        last_exit = self.num_exits if max_exit is None else max_exit
        if not 1 <= min_exit <= last_exit <= self.num_exits:
            raise ValueError(
                f'need 1 <= min_exit ({min_exit}) <= max_exit ({last_exit}) <= {self.num_exits}')
        return last_exit

    def _result(self, probabilities: torch.Tensor, exit_index: int,
                confidences: Sequence[float]) -> ImageClassification:
        """Build the result object from one image's calibrated probabilities (C,)."""
        top_scores, top_indices = torch.topk(probabilities, TOP_K)
        top_labels = tuple(self.labels[index] for index in top_indices.tolist())
        scores = tuple(top_scores.tolist())
        return ImageClassification(
            label=top_labels[0], confidence=scores[0], top_labels=top_labels,
            top_scores=scores, exit_index=exit_index, num_exits=self.num_exits,
            exit_confidences=tuple(confidences))


def _scaled_head(head: ExitHead, scale: float) -> ExitHead:
    """Copy an exit head, frozen, with its logits multiplied by ``scale``."""
    scaled = copy.deepcopy(head)
    with torch.no_grad():
        scaled.weight.mul_(scale)
        scaled.bias.mul_(scale)
    return scaled.eval().requires_grad_(False)
