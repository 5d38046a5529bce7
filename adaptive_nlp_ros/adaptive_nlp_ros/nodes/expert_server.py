"""
expert_server: understands text commands for many robots over DDS, in batches.

A ROS 2 managed (lifecycle) node like the others (``nodes/lifecycle.py``; ``autostart`` by
default): ``configure`` loads the models and creates the service, ``activate`` starts answering,
while inactive every request is answered REJECTED with reason ``inactive``, ``cleanup`` frees the
models. Serves:

* ``understand`` (``adaptive_nlp_ros_msgs/srv/Understand``; the name is the ``service``
  parameter, relative, so a namespace applies): the parse of one command as in
  ``InferenceResult``, the server's queue length and compute time, or an explicit status
  (overloaded, rejected, expired). Requests from any number of robots are queued and answered in
  batches by ``core.offload.expert_batcher.ExpertBatcher``; the service callback is a coroutine
  that waits for its batch without holding the executor, so one thread takes every request;
* ``/diagnostics`` once a second: one status named ``expert_server`` with the counters, the
  queue and the mean batch.

Parameters: ``core.offload.server_parameters.EXPERT_SERVER_PARAMETERS`` (defaults in
``config/expert_server.yaml``). This file is ROS plumbing only.
"""

import time
from typing import Any, Dict, List, NoReturn, Optional

from adaptive_nlp_ros.core.artifacts import ArtifactError
from adaptive_nlp_ros.core.controller.command_validation import check_text
from adaptive_nlp_ros.core.controller.records import DIAGNOSTIC_OK, DIAGNOSTIC_WARN
from adaptive_nlp_ros.core.inference.engine import load_text_engine
from adaptive_nlp_ros.core.offload.expert_batcher import ExpertBatcher
from adaptive_nlp_ros.core.offload.server_parameters import EXPERT_SERVER_PARAMETERS
from adaptive_nlp_ros.core.offload.understand import STATUS_REJECTED, UnderstandReply
from adaptive_nlp_ros.nodes.conversions import (diagnostic_status, understand_request,
                                                understand_response)
from adaptive_nlp_ros.nodes.lifecycle import ManagedNode, NodeStartError
from adaptive_nlp_ros.nodes.parameters import (declare_parameters, install_parameter_callbacks,
                                               ParameterDeclarationError)
from adaptive_nlp_ros.nodes.process_exit import end_process
from adaptive_nlp_ros.nodes.qos import OVERRIDABLE, SERVICE_QOS
from adaptive_nlp_ros.nodes.shutdown import ShutdownSignals, spin_until_shutdown
from adaptive_nlp_ros_msgs.srv import Understand
from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

NODE_NAME = 'expert_server'
DIAGNOSTICS_PERIOD_S = 1.0
STOP_TIMEOUT_S = 2.0
INACTIVE_REASON = 'inactive: the expert server is not active (lifecycle state inactive)'


class ExpertServerStartError(RuntimeError):
    """The server cannot start with its configuration (the message says why)."""


class ExpertServerNode(ManagedNode):
    """Serves ``Understand`` for many robots; answers in batches."""

    def __init__(self, engine: Any = None, **node_options: Any) -> None:
        """
        Declare parameters and /diagnostics; with ``autostart``, configure and activate.

        :param engine: a TextEngine already loaded (tests, composition); else loaded from
            ``artifacts_dir`` by each configure.
        """
        super().__init__(NODE_NAME, **node_options)
        self._given_engine = engine
        # Set before the parameters: a refused start-up value raises from declare_parameters,
        # and rclpy's shutdown still calls destroy_node, which reads these.
        self._batcher: Optional[ExpertBatcher] = None
        self._service = None
        self._active = False
        self._values: Dict[str, Any] = declare_parameters(self, EXPERT_SERVER_PARAMETERS)
        install_parameter_callbacks(self, EXPERT_SERVER_PARAMETERS, self._on_parameters_changed)
        self._diagnostics_publisher = self.create_publisher(
            DiagnosticArray, '/diagnostics',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
            qos_overriding_options=OVERRIDABLE)
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S,
                                                    self._publish_diagnostics)
        if self._values['autostart']:
            self.autostart()

    @property
    def batcher(self) -> Optional[ExpertBatcher]:
        """Return the request queue: None unless configured."""
        return self._batcher

    # -- life cycle ---------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the models, build the batching queue and create the service."""
        started = time.perf_counter()
        values = self._values
        try:
            engine = self._given_engine
            if engine is None:
                engine = load_text_engine(values['artifacts_dir'] or None,
                                          threads=values['threads'])
            strategy = engine.strategy(values['strategy'])
            engine.infer('warm up', strategy, engine.resources(1.0))
        except ArtifactError as error:
            return self.refuse('configure', error)
        except (KeyError, ValueError) as error:
            return self.refuse('configure', ExpertServerStartError(
                f'strategy {values["strategy"]!r}: {error}'))
        self._batcher = ExpertBatcher(
            engine, strategy, self.get_fully_qualified_name(),
            lambda text, max_chars: check_text(text, max_chars, engine.too_long_reason),
            window_s=values['batch_window_ms'] / 1e3, max_batch=values['max_batch'],
            queue_size=values['queue_size'], max_text_chars=values['max_text_chars'],
            logger=self.get_logger())
        self._service = self.create_service(Understand, values['service'], self._on_understand,
                                            qos_profile=SERVICE_QOS,
                                            callback_group=ReentrantCallbackGroup())
        self.get_logger().info(
            f'ready in {time.perf_counter() - started:.1f} s: serving '
            f'{self._service.srv_name} with {strategy.name}, batches of up to '
            f'{values["max_batch"]} within {values["batch_window_ms"]} ms, queue '
            f'{values["queue_size"]}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start answering (the worker thread starts the first time)."""
        self._active = True
        if self._batcher is not None and not self._batcher.started:
            self._batcher.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Answer new requests REJECTED ``inactive`` (queued ones are still answered)."""
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the service and free the models."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: stop answering, destroy the service, free the models."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """After an error in a transition: release everything and return to unconfigured."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        """Stop the queue (queued requests answered overloaded), destroy the service."""
        self._active = False
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.stop(STOP_TIMEOUT_S)
        if self._service is not None:
            self.destroy_service(self._service)
            self._service = None

    # -- the service --------------------------------------------------------------------------

    async def _on_understand(self, request: Understand.Request,
                             response: Understand.Response) -> Understand.Response:
        """Queue the request; wait (without blocking the executor) for its batch's reply."""
        core_request = understand_request(request)
        batcher = self._batcher
        if batcher is None or not self._active:
            return understand_response(UnderstandReply(
                core_request.request_id, STATUS_REJECTED, INACTIVE_REASON,
                server=self.get_fully_qualified_name()), response)
        executor = self.executor
        future = executor.create_future()

        def reply_to(reply: UnderstandReply) -> None:
            future.set_result(reply)
            executor.wake()

        batcher.submit(core_request, reply_to)
        reply = await future
        return understand_response(reply, response)

    # -- parameters and diagnostics -----------------------------------------------------------

    def _on_parameters_changed(self, changed: Dict[str, Any]) -> None:
        """Post-set hook: the batching settings apply from the next batch."""
        self._values.update(changed)
        batcher = self._batcher
        if batcher is not None:
            batcher.window_s = self._values['batch_window_ms'] / 1e3
            batcher.max_batch = self._values['max_batch']
            batcher.queue_size = self._values['queue_size']
            batcher.max_text_chars = self._values['max_text_chars']
        self.get_logger().info(f'parameters changed: {changed}')

    def _publish_diagnostics(self) -> None:
        """Timer callback: the server's status on /diagnostics."""
        state = self.lifecycle_state
        batcher = self._batcher
        if batcher is None:
            level, message, values = DIAGNOSTIC_WARN, f'{state}: not serving', {}
        else:
            values = batcher.status()
            level = DIAGNOSTIC_OK if self._active else DIAGNOSTIC_WARN
            message = (f'serving with {batcher.strategy_name}' if self._active
                       else 'inactive: requests are answered rejected')
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [diagnostic_status(NODE_NAME, level, message,
                                          {'lifecycle_state': state, **values})]
        self._diagnostics_publisher.publish(array)

    def destroy_node(self) -> None:
        """Answer what is still queued, then destroy the node."""
        self._release()
        super().destroy_node()


def run(args: Optional[List[str]] = None) -> int:
    """Run the server until SIGINT / SIGTERM; return the exit status (1: cannot start)."""
    signals = ShutdownSignals().install()
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            try:
                node = ExpertServerNode()
            except (ArtifactError, ParameterDeclarationError, ExpertServerStartError,
                    NodeStartError) as error:
                get_logger(NODE_NAME).fatal(str(error))
                return 1
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            try:
                spin_until_shutdown(executor, signals)
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0


def main(args: Optional[List[str]] = None) -> NoReturn:
    """Run the server, then end the process without the slow model teardown."""
    end_process(run(args))


if __name__ == '__main__':
    main()
