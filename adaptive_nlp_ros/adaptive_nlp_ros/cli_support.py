"""
What the ``adaptive-nlp`` subcommands share: user-facing errors, progress display, lookups.

Separate from ``cli.py`` so that subcommand modules (``bag_cli.py``) import it without
importing the command line that imports them.
"""

import logging
import pathlib
import sys
from typing import List, Optional

LOG = logging.getLogger('adaptive_nlp')


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def artifacts_dir(value: Optional[str]) -> pathlib.Path:
    """Return the artifacts folder given on the command line, else the default one."""
    from adaptive_nlp_ros.core.artifacts import default_artifacts_dir

    return pathlib.Path(value).expanduser() if value else default_artifacts_dir()


def progress_display():
    """Return a rich progress display on a terminal, a quiet stand-in otherwise."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    return Progress(TextColumn('{task.description:<22}'), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=not sys.stderr.isatty(),
                    console=stderr_console())


def stderr_console():
    """Return a rich console on stderr (stdout carries the results)."""
    from rich.console import Console

    return Console(stderr=True)


def step_reporter(progress):
    """Adapt (name, done, total) callbacks to progress bars, one task per step name."""
    tasks = {}
    last = {'name': None}

    def report(name: str, done: int, total: int) -> None:
        if name not in tasks:
            if last['name'] is not None:
                task = tasks[last['name']]
                progress.update(task, completed=progress.tasks[task].total or 1)
            tasks[name] = progress.add_task(name, total=total or 1)
            if progress.disable:
                LOG.info('%s ...', name)
            last['name'] = name
        progress.update(tasks[name], completed=done if total else 0, total=total or 1)
    return report


def check_strategies(engine, names: Optional[List[str]]) -> None:
    """Raise CommandError for a strategy name the engine does not know."""
    from adaptive_nlp_ros.core.inference.strategies import strategy_names

    known = strategy_names(engine.context)
    for name in names or []:
        if name not in known:
            raise CommandError(f'unknown strategy {name!r}; known: {", ".join(known)}')
