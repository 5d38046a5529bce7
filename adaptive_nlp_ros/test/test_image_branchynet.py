"""Unit tests of the image BranchyNet (core only, no ROS): training, calibration, early exit."""

import math
import pathlib

from adaptive_nlp_ros.core.inference import image_branchynet
from adaptive_nlp_ros.core.inference.image_branchynet import BranchyNetClassifier
from adaptive_nlp_ros.core.training import image_training
import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as functional

SEED = 7


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """Use one torch thread: as fast for this small network, and robust to a loaded machine."""
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(caller_threads)


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> tuple[pathlib.Path, dict, BranchyNetClassifier]:
    """Train one model for the whole module (seconds on two cores) and load it back."""
    model_dir = tmp_path_factory.mktemp('branchynet')
    report = image_training.train_branchynet(model_dir, seed=SEED)
    return model_dir, report, BranchyNetClassifier.load(model_dir)


@pytest.fixture(scope='module')
def test_split() -> tuple[np.ndarray, np.ndarray]:
    """Held-out digits: uint8 Nx8x8 images and int labels."""
    return image_training.load_digit_splits(SEED)['test']


def accuracy(results, labels) -> float:
    """Share of results whose label is the true digit."""
    return float(np.mean([r.label == f'digit_{label}' for r, label in zip(results, labels)]))


def resized_mono8(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Rescale a mono8 digit the way a camera pipeline might (bilinear, rounded to uint8)."""
    pixels = torch.from_numpy(image.astype(np.float32))[None, None]
    scaled = functional.interpolate(pixels, size=(height, width), mode='bilinear',
                                    align_corners=False)
    return scaled[0, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def test_splits_are_fixed_stratified_and_mono8():
    splits = image_training.load_digit_splits(SEED)
    again = image_training.load_digit_splits(SEED)
    sizes = {name: len(labels) for name, (_, labels) in splits.items()}
    assert sum(sizes.values()) == 1797
    assert sizes['test'] == sizes['dev'] == 360
    for name, (images, labels) in splits.items():
        assert images.dtype == np.uint8 and images.shape[1:] == (8, 8)
        assert images.max() == 255
        assert set(labels.tolist()) == set(range(10))
        np.testing.assert_array_equal(images, again[name][0])
        np.testing.assert_array_equal(labels, again[name][1])


def test_network_has_three_stages_and_two_side_exits(trained):
    _, _, classifier = trained
    network = classifier.network
    assert classifier.num_exits == len(network.stages) >= 3
    assert len(network.exits) - 1 >= 2
    convolutions = [layer for stage in network.stages for layer in stage
                    if isinstance(layer, nn.Conv2d)]
    assert len(convolutions) >= 3
    assert all(any(isinstance(layer, nn.Conv2d) for layer in stage) for stage in network.stages)
    assert classifier.labels == [f'digit_{digit}' for digit in range(10)]


def test_first_exit_is_much_cheaper_than_the_full_network(trained):
    _, _, classifier = trained
    first = classifier.stage_macs[0] + classifier.exit_macs[0]
    full = sum(classifier.stage_macs) + classifier.exit_macs[-1]
    assert full >= 20 * first
    # Stage 1 is one 3x3 convolution from 1 channel to 16 at 8x8.
    assert classifier.stage_macs[0] == 8 * 8 * 16 * 9


def test_final_exit_is_accurate(trained, test_split):
    _, report, classifier = trained
    images, labels = test_split
    assert report['test_accuracy'][-1] >= 0.95
    results = [classifier.classify(image, math.inf) for image in images]
    assert accuracy(results, labels) >= 0.95
    assert report['train_seconds'] > 0


def test_calibration_holds_on_digits_it_was_not_fitted_on(trained):
    """Temperatures come from dev; on the held-out test digits the confidences still hold."""
    _, report, classifier = trained
    dev, test = report['dev'], report['test']
    assert len(dev) == len(test) == classifier.num_exits
    # Temperature scaling minimizes the NLL, so it can never raise it on the split it was fit on.
    assert all(entry['nll_after'] <= entry['nll_before'] + 1e-6 for entry in dev)
    assert all(entry['ece_after'] <= 0.04 for entry in test), test
    assert np.mean([entry['ece_after'] for entry in test]) < np.mean(
        [entry['ece_before'] for entry in test]), test


def test_the_shipped_image_model_never_saw_the_test_digits(artifacts_dir):
    """Tests use load_digit_splits()['test'] as unseen digits: true for the shipped model."""
    from adaptive_nlp_ros.core import artifacts

    shipped = BranchyNetClassifier.load(artifacts_dir / artifacts.IMAGE_DIR)
    assert shipped.split_seed == image_training.DIGIT_SPLIT_SEED


def test_threshold_zero_leaves_at_the_first_exit(trained, test_split):
    _, _, classifier = trained
    for image in test_split[0][:50]:
        result = classifier.classify(image, 0.0)
        assert result.exit_index == 1
        assert len(result.exit_confidences) == 1


def test_threshold_above_one_runs_every_stage(trained, test_split):
    _, _, classifier = trained
    for image in test_split[0][:50]:
        result = classifier.classify(image, 1.01)
        assert result.exit_index == classifier.num_exits == result.num_exits
        assert len(result.exit_confidences) == classifier.num_exits
        assert result.confidence == pytest.approx(result.exit_confidences[-1])


def test_result_is_a_consistent_probability(trained, test_split):
    _, _, classifier = trained
    result = classifier.classify(test_split[0][0], 0.9)
    assert result.label == result.top_labels[0]
    assert len(result.top_labels) == len(result.top_scores) == 3
    assert list(result.top_scores) == sorted(result.top_scores, reverse=True)
    assert 0.0 <= sum(result.top_scores) <= 1.0 + 1e-5
    assert result.confidence == result.top_scores[0] == result.exit_confidences[-1]
    with pytest.raises(AttributeError):
        result.label = 'digit_0'


@pytest.mark.parametrize('shape', [(8, 8), (28, 28), (100, 60), (1, 1), (3, 200)])
def test_any_image_size_gives_a_valid_label(trained, shape):
    _, _, classifier = trained
    image = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    for threshold in (0.0, 0.9, 2.0):
        result = classifier.classify(image, threshold)
        assert result.label in classifier.labels
        assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize('shape', [(28, 28), (100, 60)])
def test_rescaled_digits_are_still_recognized(trained, test_split, shape):
    _, _, classifier = trained
    images, labels = test_split
    results = [classifier.classify(resized_mono8(image, *shape), 0.9) for image in images[:100]]
    assert accuracy(results, labels[:100]) >= 0.9


@pytest.mark.parametrize('bad', [
    np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.float32), np.zeros((0, 8), np.uint8),
    np.zeros(64, np.uint8)])
def test_bad_images_are_refused_with_value_error(trained, bad):
    _, _, classifier = trained
    with pytest.raises(ValueError):
        classifier.classify(bad, 0.9)


def test_save_load_round_trip_gives_identical_outputs(trained, test_split, tmp_path):
    model_dir, _, classifier = trained
    classifier.save(tmp_path)
    reloaded = BranchyNetClassifier.load(tmp_path)
    assert reloaded.temperatures == classifier.temperatures
    assert reloaded.dev_accuracy == classifier.dev_accuracy
    assert (tmp_path / image_branchynet.CONFIG_FILE).read_text() == (
        model_dir / image_branchynet.CONFIG_FILE).read_text()
    for image in test_split[0][:20]:
        for threshold in (0.5, 0.99, 2.0):
            assert reloaded.classify(image, threshold) == classifier.classify(image, threshold)
    x = image_branchynet.preprocess_mono8(test_split[0][0])
    for stage in range(1, classifier.num_exits + 1):
        h_original, h_reloaded = classifier.run_stage(stage, x), reloaded.run_stage(stage, x)
        torch.testing.assert_close(h_original, h_reloaded, rtol=0, atol=0)
        torch.testing.assert_close(classifier.exit_logits(stage, h_original),
                                   reloaded.exit_logits(stage, h_reloaded), rtol=0, atol=0)
        x = h_original


def test_stage_by_stage_matches_classify(trained, test_split):
    _, _, classifier = trained
    image = test_split[0][3]
    h = image_branchynet.preprocess_mono8(image)
    for stage in range(1, classifier.num_exits + 1):
        h = classifier.run_stage(stage, h)
        probabilities = classifier.exit_probabilities(stage, h)[0]
        result = classifier.classify(image, math.inf, min_exit=stage, max_exit=stage)
        assert result.confidence == pytest.approx(float(probabilities.max()), abs=1e-6)
        scaled = torch.softmax(classifier.exit_logits(stage, h)[0]
                               / classifier.temperatures[stage - 1], 0)
        torch.testing.assert_close(probabilities, scaled, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('threshold', [0.0, 0.9, 0.99, 2.0])
def test_batch_and_one_at_a_time_agree(trained, test_split, threshold):
    _, _, classifier = trained
    images = list(test_split[0][:80])
    images[5] = resized_mono8(images[5], 28, 28)      # sizes may differ within a batch
    images[6] = resized_mono8(images[6], 100, 60)
    one_by_one = [classifier.classify(image, threshold) for image in images]
    batched = classifier.classify_batch(images, threshold)
    assert [r.label for r in batched] == [r.label for r in one_by_one]
    assert [r.exit_index for r in batched] == [r.exit_index for r in one_by_one]
    for single, batch in zip(one_by_one, batched):
        assert batch.exit_confidences == pytest.approx(single.exit_confidences, abs=1e-5)
    assert classifier.classify_batch([], threshold) == []


def test_min_and_max_exit_are_honoured(trained, test_split):
    _, _, classifier = trained
    for image in test_split[0][:30]:
        late = classifier.classify(image, 0.0, min_exit=2)
        assert late.exit_index == 2 and len(late.exit_confidences) == 1
        capped = classifier.classify(image, 2.0, max_exit=2)
        assert capped.exit_index == 2 and len(capped.exit_confidences) == 2
        only_last = classifier.classify(image, 0.0, min_exit=3)
        assert only_last.exit_index == 3 and len(only_last.exit_confidences) == 1
        window = classifier.classify(image, 0.999, min_exit=2, max_exit=2)
        assert window.exit_index == 2
        for result in classifier.classify_batch([image], 0.0, min_exit=2, max_exit=3):
            assert result.exit_index == 2
    for min_exit, max_exit in [(0, None), (2, 1), (1, 4), (4, None)]:
        with pytest.raises(ValueError):
            classifier.classify(test_split[0][0], 0.5, min_exit=min_exit, max_exit=max_exit)


def test_early_exit_saves_work_without_losing_accuracy(trained, test_split):
    _, _, classifier = trained
    images, labels = test_split
    full = [classifier.classify(image, math.inf, min_exit=classifier.num_exits)
            for image in images]
    policy = [classifier.classify(image, 0.95) for image in images]
    assert accuracy(policy, labels) >= accuracy(full, labels) - 0.01
    full_macs = classifier.macs_for(classifier.num_exits, classifier.num_exits)
    mean_macs = np.mean([classifier.macs_for(result.exit_index) for result in policy])
    assert mean_macs < full_macs / 3


def test_training_is_reproducible_and_leaves_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = image_training.train_branchynet(tmp_path / 'a', seed=3, epochs=1)
    assert torch.equal(torch.rand(1), expected_next)
    second = image_training.train_branchynet(tmp_path / 'b', seed=3, epochs=1)
    assert first['test_accuracy'] == second['test_accuracy']
    state_a = torch.load(tmp_path / 'a' / image_branchynet.WEIGHTS_FILE, weights_only=True)
    state_b = torch.load(tmp_path / 'b' / image_branchynet.WEIGHTS_FILE, weights_only=True)
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[key], state_b[key]) for key in state_a)
