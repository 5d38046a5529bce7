"""
The controller without ROS: receive, check, queue, infer and answer every command once.

``controller.CommandController`` is what ``nodes/controller_node.py`` adapts; its parts are
the receipt rules (``intake``), the one-result-per-command ledger (``ledger``), the inference
worker (``worker``), the strategies in force (``strategy_selection``), the battery as the
controller judges it (``battery_tracker``), the bounded two-lane queue (``command_queue``) and
the input checks shared with bag replay (``command_validation``).
"""
