"""
The command corpus: how commands are annotated, generated and shipped.

``markup`` reads the bracket notation that hand-labelled commands are written in and turns each
line into a corpus record with character spans. Pure Python: no model, no ROS.
"""
