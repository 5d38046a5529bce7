"""
The expert server's parameters: one ``ParameterSpec`` each.

Defaults are also in ``config/expert_server.yaml`` (a test keeps the two equal).

The batching settings change at run time (the next batch uses them); the model, the strategy
and the service name are read-only (set at start-up).
"""

from ..node_lifecycle import AUTOSTART
from ..parameter_spec import ParameterSpec

EXPERT_SERVER_PARAMETERS = (
    ParameterSpec('artifacts_dir', '',
                  'Trained artifacts folder; empty: $ADAPTIVE_NLP_ARTIFACTS, else the per-user '
                  'cache.', read_only=True),
    ParameterSpec('threads', 1,
                  'Torch / ONNX Runtime threads for inference (a server with cores to spare may '
                  'give more).', min_value=1, max_value=64, read_only=True),
    ParameterSpec('strategy', 'full',
                  'Strategy the server answers with (default: full, the reference: torch fp32, '
                  'every layer).', read_only=True),
    ParameterSpec('service', 'understand',
                  'Name of the Understand service (relative: in the node namespace).',
                  read_only=True),
    ParameterSpec('batch_window_ms', 5.0,
                  'After the oldest waiting request, wait this long for more to batch with it '
                  '(0: no waiting).', min_value=0.0, max_value=1000.0),
    ParameterSpec('max_batch', 16,
                  'Most requests answered in one batch (1: no batching).',
                  min_value=1, max_value=256),
    ParameterSpec('queue_size', 64,
                  'Requests that may wait; one more is answered overloaded at once.',
                  min_value=1, max_value=100000),
    ParameterSpec('max_text_chars', 1000,
                  'Longer texts are answered rejected.', min_value=1, max_value=1000000),
    AUTOSTART,
)
