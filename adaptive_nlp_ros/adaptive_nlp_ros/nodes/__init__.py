"""Thin rclpy nodes: read parameters, convert messages, call core, publish."""
