"""
Ending a node process quickly once everything it owns is released.

A process that imported torch, transformers and ONNX Runtime spends 0.4-0.8 s (several
seconds on a loaded two-core machine) tearing those modules down at interpreter exit, which
breaks the rule that Ctrl-C or SIGTERM ends a node within 2 s. ``end_process`` is called by
``main()`` after the nodes were destroyed and the ROS context shut down (which also removes
Fast DDS's shared-memory files): it flushes the log and the standard streams and ends the
process without that teardown. Nothing is left for the finalizers to release.
"""

import logging
import os
import sys
from typing import NoReturn


def end_process(status: int) -> NoReturn:
    """Flush logging and the standard streams, then exit with ``status`` at once."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
