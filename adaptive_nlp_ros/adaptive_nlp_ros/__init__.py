"""adaptive_nlp_ros: energy-aware adaptive inference for robot commands."""

__version__ = '0.1.0'
