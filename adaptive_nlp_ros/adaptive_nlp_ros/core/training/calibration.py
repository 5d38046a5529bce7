"""Temperature scaling and calibration error, so a confidence threshold means a probability."""

import math

import numpy as np
import torch

# Bounds of the fit: an exit that gets every dev example right would otherwise drive T
# towards 0 (every confidence 1).
MIN_TEMPERATURE = 0.25
MAX_TEMPERATURE = 20.0
ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor,
                    min_temperature: float = MIN_TEMPERATURE,
                    max_temperature: float = MAX_TEMPERATURE) -> float:
    """
    Return the temperature T minimizing the negative log-likelihood of softmax(logits / T).

    A one-parameter fit on held-out data (Guo et al., 2017): it changes confidences, never the
    predicted label. Golden-section search on 1/T, in which the NLL is convex; deterministic.
    """
    logits = logits.detach().float()
    labels = labels.detach().long()

    def nll(inverse_temperature: float) -> float:
        return float(torch.nn.functional.cross_entropy(logits * inverse_temperature, labels))

    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    low, high = 1.0 / max_temperature, 1.0 / min_temperature
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    left_nll, right_nll = nll(left), nll(right)
    for _ in range(60):
        if left_nll <= right_nll:
            high, right, right_nll = right, left, left_nll
            left = high - ratio * (high - low)
            left_nll = nll(left)
        else:
            low, left, left_nll = left, right, right_nll
            right = low + ratio * (high - low)
            right_nll = nll(right)
    return 1.0 / ((low + high) / 2.0)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = ECE_BINS) -> float:
    """Return ECE: |accuracy - confidence| over equal-width confidence bins, by bin share."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    error = 0.0
    for bin_index in range(bins):
        in_bin = index == bin_index
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)
