"""
The controller started on damaged artifacts: fatal without the backbone, degraded otherwise.

Each test damages its own copy of the trained artifacts: a tree of hard links to the real
files (no 200 MB copy; a plain copy where links are impossible), removed afterwards. A file
is damaged by unlinking it first and writing a new one in its place, never by writing
through a link (that would damage the real artifacts).
"""

import os
import pathlib
import shutil
from typing import Iterator, Optional

from adaptive_nlp_ros.core import artifacts
from adaptive_nlp_ros.core.controller.command_validation import ImageInput
from adaptive_nlp_ros.core.controller.controller import CommandController
from adaptive_nlp_ros.core.controller.controller_parameters import ControllerSettings
from adaptive_nlp_ros.core.controller.engines import load_controller_engines
from adaptive_nlp_ros.core.controller.records import STATUS_ANSWERED, STATUS_REJECTED
from adaptive_nlp_ros_msgs.msg import InferenceResult
import pytest
from test_controller_node import ControllerClient

BACKBONE_WEIGHTS = f'{artifacts.BACKBONE_DIR}/model.safetensors'
CORRUPT_LAYER = artifacts.ONNX_LAYER.format(layer=3, precision='int8')
STRATEGIES = ('early_exit', 'energy_greedy', 'fuzzy_complexity', 'moe_gate',
              'segment_precision', 'moe_routing', 'progressive', 'full')


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def replace_file(path: pathlib.Path, content: Optional[bytes]) -> None:
    """Remove ``path`` (a link into the real artifacts) and write ``content`` instead, if any."""
    path.unlink()
    if content is not None:
        path.write_bytes(content)


@pytest.fixture
def artifacts_copy(artifacts_dir, tmp_path) -> Iterator[pathlib.Path]:
    """Return a private copy of the artifacts folder (hard links), removed after the test."""
    copy = tmp_path / 'artifacts'
    shutil.copytree(artifacts_dir, copy, copy_function=_link_or_copy)
    try:
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_missing_backbone_exits_1_naming_the_file_and_the_rebuild_command(
        ros_domain, artifacts_copy):
    replace_file(artifacts_copy / BACKBONE_WEIGHTS, None)
    process = ros_domain.start_node('controller_node',
                                    parameters={'artifacts_dir': str(artifacts_copy)})
    assert process.wait_exit(timeout_s=60.0) == 1, process.describe()
    stderr = process.stderr
    assert str(artifacts_copy / BACKBONE_WEIGHTS) in stderr and 'missing' in stderr
    assert f'adaptive-nlp artifacts --ensure --artifacts {artifacts_copy}' in stderr, (
        process.describe())
    assert 'Traceback' not in stderr, process.describe()


def test_corrupt_onnx_layer_leaves_the_other_modes_answering_and_is_reported(
        ros_domain, artifacts_copy):
    """One corrupt int8 ONNX file: ort_int8 is gone, reported; every strategy still answers."""
    domain = ros_domain
    replace_file(artifacts_copy / CORRUPT_LAYER, b'not an ONNX model')
    process = domain.start_node('controller_node', parameters={
        'artifacts_dir': str(artifacts_copy), 'battery_timeout_s': 3600.0})
    client = ControllerClient(domain, process)
    values = client.diagnostic_values(what='a controller_node status')
    problems = values['model_problems']
    assert 'execution mode ort_int8 unavailable' in problems
    assert str(artifacts_copy / CORRUPT_LAYER) in problems and 'corrupt' in problems
    assert 'adaptive-nlp train' in problems
    assert str(artifacts_copy / CORRUPT_LAYER) in process.stderr        # logged at start too

    early = client.ask('go to the kitchen')
    assert (early.status, early.label) == (InferenceResult.STATUS_ANSWERED, 'navigate')
    assert 'ort_int8' not in early.reason, early.reason       # mode auto: a loaded mode
    for strategy in STRATEGIES[1:]:
        client.set_ok(strategy=strategy)
        result = client.ask('pick up the red cup')
        assert result.status == InferenceResult.STATUS_ANSWERED, (strategy, result.reason)
        assert result.label == 'pick' and result.configuration.strategy == strategy
        assert 'ort_int8' not in result.configuration.variant
    client.set_ok(strategy='early_exit')
    stop = client.ask('stop')
    assert (stop.status, stop.label) == (InferenceResult.STATUS_ANSWERED, 'stop')
    process.stop()


def test_without_tfidf_and_image_models_every_command_is_a_possible_stop(artifacts_copy):
    """No cheap model: the stop check fails safe (all possible stops); images are refused."""
    replace_file(artifacts_copy / artifacts.TFIDF_MODEL, None)
    replace_file(artifacts_copy / artifacts.IMAGE_DIR / 'branchynet.pt', b'\x00' * 16)
    engines = load_controller_engines(artifacts_copy, warm_up=False)
    assert any('tfidf_logreg unavailable' in problem for problem in engines.problems)
    assert any(problem.startswith('image model unavailable') for problem in engines.problems)
    assert engines.text.safety_check('go to the kitchen').possible

    results = []
    controller = CommandController(engines, ControllerSettings(queue_size=2), results.append,
                                   lambda configuration, stamp: None)
    for text in ('go to the kitchen', 'stop', 'pick up the red cup'):
        controller.receive_text(text)
    controller.receive_image(ImageInput('mono8', 8, 8, 8, bytes(64)))
    while controller.process_next(0.0):
        pass
    by_text = {result.input_text: result for result in results if result.input_kind == 'text'}
    assert all(result.status == STATUS_ANSWERED for result in by_text.values())
    assert by_text['stop'].label == 'stop'
    image = next(result for result in results if result.input_kind == 'image')
    assert image.status == STATUS_REJECTED and image.code == 'model_unavailable'
    assert controller.counts()['possible_stop'] == 3
    _, _, values = controller.diagnostics()
    assert 'tfidf_logreg' in values['model_problems']
