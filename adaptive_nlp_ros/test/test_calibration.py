"""Temperature scaling and calibration error (shared by the text exits and the image exits)."""

from adaptive_nlp_ros.core.training.calibration import expected_calibration_error, fit_temperature
import numpy as np
import pytest
import torch


def test_fit_temperature_recovers_a_known_temperature():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 10, generator=generator) * 4.0
    labels = torch.multinomial(torch.softmax(logits / 2.0, 1), 1, generator=generator)[:, 0]
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_expected_calibration_error_of_simple_cases():
    confident_right = np.eye(10)[[1, 2, 3]]
    assert expected_calibration_error(confident_right, np.array([1, 2, 3])) == 0.0
    assert expected_calibration_error(
        confident_right, np.array([0, 0, 0])) == pytest.approx(1.0)
    uniform = np.full((4, 10), 0.1)
    assert expected_calibration_error(
        uniform, np.array([0, 1, 2, 3])) == pytest.approx(0.15)


def test_temperature_scaling_lowers_calibration_error_of_overconfident_logits():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3000, 14, generator=generator) * 6.0      # far too sharp
    labels = torch.multinomial(torch.softmax(logits / 3.0, 1), 1, generator=generator)[:, 0]
    before = expected_calibration_error(torch.softmax(logits, 1).numpy(), labels.numpy())
    temperature = fit_temperature(logits, labels)
    after = expected_calibration_error(torch.softmax(logits / temperature, 1).numpy(),
                                       labels.numpy())
    assert temperature > 1.5 and after < before / 2


def test_temperature_stays_within_bounds_when_dev_is_all_right():
    logits = torch.eye(5) * 3.0
    assert 0.25 <= fit_temperature(logits, torch.arange(5)) < 0.3


def test_text_exits_are_calibrated_on_dev(artifacts_dir):
    """The training report shows temperature scaling lowered every text exit's dev ECE."""
    import json

    report = json.loads((artifacts_dir / 'text' / 'training_report.json').read_text())
    rows = report['exits']
    assert len(rows) == 6
    assert sum(row['ece_after'] for row in rows) < sum(row['ece_before'] for row in rows)
    assert all(row['ece_after'] <= row['ece_before'] + 0.005 for row in rows)
