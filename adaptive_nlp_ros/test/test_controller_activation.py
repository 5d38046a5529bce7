"""
core.controller's inactive state, without ROS: what a configured but inactive node answers.

The lifecycle node builds its controller inactive on configure and switches it with
``activate`` / ``deactivate``; every command must still get exactly one result, and while
inactive that result is REJECTED with reason ``inactive`` and nothing is inferred.
"""

import threading
from types import SimpleNamespace
from typing import List

from adaptive_nlp_ros.core.controller.command_validation import ImageInput
from adaptive_nlp_ros.core.controller.controller import CommandController
from adaptive_nlp_ros.core.controller.controller_parameters import ControllerSettings
from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.core.controller.records import (CommandResult, STATUS_ANSWERED,
                                                      STATUS_REJECTED)
from adaptive_nlp_ros.core.inference.decisions import ResourceState
from adaptive_nlp_ros.core.inference.engine import SafetyCheck
from adaptive_nlp_ros.core.inference.results import InferenceOutcome


class CountingEngine:
    """A text and image engine stand-in that counts what it was asked to infer."""

    def __init__(self) -> None:
        self.context = SimpleNamespace(pool=[])
        self.inferred: List[object] = []

    def set_budget_model(self, budget_model) -> None:
        self.budget_model = budget_model

    def strategy(self, name: str, settings=()):
        return SimpleNamespace(name=name, describe=lambda: name,
                               confidence_threshold=lambda resources: 0.9)

    def resources(self, battery_fraction, charging=False, stale=False, capacity_wh=None):
        return ResourceState(battery_fraction, stale, charging, 1.0)

    def too_long_reason(self, text: str):
        return None

    def safety_check(self, text: str) -> SafetyCheck:
        return SafetyCheck(False, 0.0)

    def infer(self, command, strategy, resources) -> InferenceOutcome:
        self.inferred.append(command)
        return InferenceOutcome('navigate', 0.9, ['navigate'], [0.9], strategy.name, 'fake', 1, 1)

    def infer_batch(self, texts, strategy, resources) -> List[InferenceOutcome]:
        return [self.infer(text, strategy, resources) for text in texts]


class Results(list):
    """The results published, in order; ``wait_for`` blocks until one with an id arrived."""

    def __init__(self) -> None:
        super().__init__()
        self._arrived = threading.Condition()

    def publish(self, result: CommandResult) -> None:
        with self._arrived:
            self.append(result)
            self._arrived.notify_all()

    def wait_for(self, request_id: int, timeout_s: float = 10.0) -> List[CommandResult]:
        with self._arrived:
            self._arrived.wait_for(lambda: any(result.request_id == request_id
                                               for result in self), timeout_s)
            return [result for result in self if result.request_id == request_id]


def make_controller(active: bool):
    """Return (controller, engine, results) over the counting engine, not started."""
    engine = CountingEngine()
    results = Results()
    controller = CommandController(ControllerEngines(engine, engine), ControllerSettings(),
                                   results.publish, lambda configuration, stamp: None,
                                   active=active)
    return controller, engine, results


def run_queue(controller: CommandController) -> None:
    """Answer everything queued (what the worker thread does)."""
    while controller.process_next(0.0):
        pass


IMAGE = ImageInput(encoding='mono8', height=2, width=2, step=2, data=bytes(4))


def test_an_inactive_controller_rejects_every_command_as_inactive_and_infers_nothing():
    controller, engine, results = make_controller(active=False)
    ids = [controller.receive_text('go to the kitchen'), controller.receive_text(''),
           controller.receive_image(IMAGE)]
    run_queue(controller)
    assert [result.request_id for result in results] == ids            # one each, at once
    assert {(result.status, result.code) for result in results} == \
        {(STATUS_REJECTED, 'inactive')}
    assert all(result.reason.startswith('inactive') for result in results)
    assert engine.inferred == []
    level, message, values = controller.diagnostics()
    assert (values['active'], values['rejected_inactive'], level) == (False, 3, 1)
    assert message.startswith('inactive')


def test_deactivate_answers_queued_commands_inactive_and_activate_resumes():
    controller, engine, results = make_controller(active=True)
    queued = [controller.receive_text(f'go to room {index}') for index in range(3)]
    controller.deactivate()
    run_queue(controller)
    assert [(result.request_id, result.code) for result in results] == \
        [(request_id, 'inactive') for request_id in queued]
    assert engine.inferred == []

    controller.activate()                             # starts the worker
    try:
        assert controller.active and controller.worker_alive
        answered = results.wait_for(controller.receive_text('go to the kitchen'))
    finally:
        controller.stop()
    assert [(result.status, result.label) for result in answered] == \
        [(STATUS_ANSWERED, 'navigate')]
    assert controller.diagnostics()[2]['active'] is True
