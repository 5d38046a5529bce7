"""
Where to compute: the robot or an expert server over DDS (``Understand`` service), no ROS here.

``understand`` is the exchange, ``radio_energy`` what it costs the robot's battery,
``link_estimate`` what the robot knows of the link, ``edge_offload`` the per-command decision and
the wait, ``expert_batcher`` the server's bounded, batching queue.
"""
