"""Temperature scaling and calibration error, so a confidence threshold means a probability."""

import numpy as np
import torch


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """
    Return the temperature T minimizing the negative log-likelihood of softmax(logits / T).

    A one-parameter fit on held-out data (Guo et al., 2017): it changes confidences, never
    the predicted label. Optimized over log T so T stays positive.
    """
    logits = logits.detach().float().clone()
    labels = labels.detach().long().clone()
    log_temperature = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=200,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_temperature.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_temperature.exp())
    return min(max(temperature, 0.05), 20.0)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy over equal-width bins."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)
