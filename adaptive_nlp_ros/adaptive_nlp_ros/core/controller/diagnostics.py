"""
The ``controller_node`` status on ``/diagnostics``: what it answers with, and every counter.

OK while answering; WARN with a stale battery or a model problem (a mode or the image model
that failed to load); ERROR when the worker thread died. The README's ROS interface lists
the keys other components rely on (``received``, ``answered``, ``rejected``, ``dropped``,
``queue_length``, ``battery_age_s``, ``strategy``); the rest are for people.
"""

import math
from typing import Dict, Tuple

from .records import DIAGNOSTIC_ERROR, DIAGNOSTIC_OK, DIAGNOSTIC_WARN


def controller_status(controller) -> Tuple[int, str, Dict[str, object]]:
    """Return ``(level, message, values)`` of a ``CommandController``."""
    settings = controller.settings
    battery = controller.battery
    queue = controller.queue
    engines = controller.engines
    worker = controller.worker
    reading = battery.reading()
    counts = controller.counts()
    active = settings.stale_strategy if reading.stale else settings.strategy
    values: Dict[str, object] = {
        'active': controller.active,
        'received': counts['received'],
        'answered': counts['answered'],
        'rejected': counts['rejected'],
        'dropped': counts['dropped'],
        'queue_length': len(queue),
        'battery_age_s': battery.age_s(),
        'strategy': settings.strategy,
        'active_strategy': active,
        'stale_strategy': settings.stale_strategy,
        'battery_stale': reading.stale,
        'battery_fraction': reading.last_good_fraction,
        'in_progress': worker.in_progress,
        'max_batch': settings.max_batch,
        'batches': worker.batches,
        'batched_commands': worker.batched_commands,
        'mean_batch': (worker.batched_commands / worker.batches if worker.batches
                       else math.nan),
        'batch_failures': worker.batch_failures,
        'queue_size': queue.capacity,
        'stop_queue_length': queue.priority_length(),
        'stop_queue_size': queue.priority_capacity,
        'stop_demoted': queue.demoted_total,
        'queue_high_water': queue.high_water,
        'possible_stop': counts['possible_stop'],
        'last_latency_ms': controller.ledger.last_latency_ms,
        'mean_latency_ms': controller.ledger.mean_latency_ms(),
        'publish_failures': counts['publish_failures'],
        'stale_stop_honoured': counts['stale_stop_honoured'],
        'command_clock_ahead': counts['command_clock_ahead'],
    }
    values.update({key: count for key, count in counts.items()
                   if key.startswith(('rejected_', 'dropped_'))})
    values.update(battery.counts())
    edge = controller.selection.edge
    if edge is not None:
        values.update(edge.link.snapshot())
        values['edge_local_energy_mj'] = edge.local_energy_mj
    values['image_model'] = 'loaded' if engines.image is not None else 'unavailable'
    values['model_problems'] = '; '.join(engines.problems) or 'none'
    values['startup_s'] = engines.load_s
    notes = []
    if reading.stale:
        notes.append('battery stale (' + (f'none for {reading.age_s:.1f} s'
                                          if reading.ever_received else 'never received')
                     + ')')
    if engines.problems:
        notes.append(f'{len(engines.problems)} model problem(s): ' + '; '.join(engines.problems))
    level = DIAGNOSTIC_WARN if notes or not controller.active else DIAGNOSTIC_OK
    state = (f'answering with {active}' if controller.active
             else 'inactive: every command is answered REJECTED')
    message = '; '.join([state] + notes)
    if worker.started and not worker.alive and not worker.stopping:
        level, message = DIAGNOSTIC_ERROR, f'the worker stopped ({worker.failed})'
    return level, message, values
