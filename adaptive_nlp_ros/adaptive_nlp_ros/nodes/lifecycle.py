"""
What ``battery_node`` and ``controller_node`` share as ROS 2 managed (lifecycle) nodes.

Both follow the standard state machine (``rclpy.lifecycle``): unconfigured -> configure ->
inactive -> activate -> active, back through deactivate and cleanup, and shutdown from any of
them to finalized; ``ros2 lifecycle get/set`` and launch_ros' lifecycle events drive it.
``ManagedNode`` adds three things to ``LifecycleNode``:

* ``autostart()`` configures, then activates; the nodes call it at the end of their
  constructor when their ``autostart`` parameter is true (the default), so ``ros2 run``, the
  launch file and ``adaptive-nlp demo`` get a working node as before. A step that fails raises
  the exception that made it fail, so ``main`` ends with that message and status 1.
* ``refuse(step, error)`` is what a transition callback returns on failure: the node stays
  where it was, the reason is logged (by ``main`` instead, while autostarting, so it is said
  once) and kept for ``autostart``. rclpy itself would turn an exception in a callback into
  an ERROR transition without a word.
* ``lifecycle_state``, the current state's label, which ``/diagnostics`` reports.
"""

from typing import Any, Optional

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn


class NodeStartError(RuntimeError):
    """A start-up transition failed without an exception of its own (the message says which)."""


class ManagedNode(LifecycleNode):
    """A lifecycle node that can start itself and says why a transition failed."""

    def __init__(self, node_name: str, **node_options: Any) -> None:
        """Create the lifecycle node (unconfigured) with its lifecycle services."""
        super().__init__(node_name, **node_options)
        self._autostarting = False
        self._transition_error: Optional[BaseException] = None

    @property
    def lifecycle_state(self) -> str:
        """Return the label of the current state: unconfigured, inactive, active, finalized."""
        # rclpy 9 keeps the state in its state machine and offers no public getter.
        return self._state_machine.current_state[1]

    def autostart(self) -> None:
        """
        Configure, then activate (the ``autostart`` parameter's start-up).

        :raises: the exception that made a step fail, else ``NodeStartError``.
        """
        self._autostarting = True
        try:
            for step, trigger in (('configure', self.trigger_configure),
                                  ('activate', self.trigger_activate)):
                self._transition_error = None
                if trigger() != TransitionCallbackReturn.SUCCESS:
                    if self._transition_error is not None:
                        raise self._transition_error
                    raise NodeStartError(f'{self.get_name()}: {step} failed (now '
                                         f'{self.lifecycle_state})')
        finally:
            self._autostarting = False

    def destroy_node(self) -> None:
        """
        Destroy the node, then its lifecycle state machine.

        rclpy 9's ``LifecycleNode`` leaves the state machine alive, and it holds the node's
        handle: the DDS participant then outlived the process's ROS context and Fast DDS left
        its files in /dev/shm (measured: two ``fastdds_*_el`` files per controller run).
        """
        super().destroy_node()
        self._state_machine.destroy_when_not_in_use()

    def refuse(self, step: str, error: BaseException) -> TransitionCallbackReturn:
        """Return FAILURE for ``step`` after logging why (or keeping it for ``autostart``)."""
        self._transition_error = error
        if not self._autostarting:
            self.get_logger().error(f'{step} failed: {error}')
        return TransitionCallbackReturn.FAILURE
