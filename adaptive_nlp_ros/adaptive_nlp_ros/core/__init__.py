"""The product's brain: models, strategies, budgets and evaluation. No ROS in here."""
