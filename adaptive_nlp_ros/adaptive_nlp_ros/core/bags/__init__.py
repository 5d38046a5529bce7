"""
Rosbags without ROS tools.

Read rosbag2 (mcap and sqlite3) robustly (``bag_reader``), decode the project's message types
(``bag_types``), replay a bag through the live controller path to score strategies
(``bag_evaluation``), and play one into a live graph (``bag_playback``).
"""
