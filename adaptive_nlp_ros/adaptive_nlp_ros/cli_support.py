"""
What the ``adaptive-nlp`` subcommands share: user-facing errors, progress display, lookups.

Separate from ``cli.py`` so that subcommand modules (``bag_cli.py``) import it without
importing the command line that imports them.
"""

import argparse
import contextlib
import logging
import math
import os
import pathlib
import signal
import sys
import threading
from typing import List, Optional, Sequence

LOG = logging.getLogger('adaptive_nlp')


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def artifacts_dir(value: Optional[str]) -> pathlib.Path:
    """Return the artifacts folder given on the command line, else the default one."""
    from adaptive_nlp_ros.core.artifacts import default_artifacts_dir

    return pathlib.Path(value).expanduser() if value else default_artifacts_dir()


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f'{text!r} is not a finite number')
    return value


def positive_number(text: str) -> float:
    """Parse a finite number > 0 (argparse type: a bad value is a usage error, exit 2)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'{text}: must be a positive number')
    return value


def non_negative_number(text: str) -> float:
    """Parse a finite number >= 0 (argparse type: seconds, a budget in mJ)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'{text}: must be a number >= 0')
    return value


def battery_fraction(text: str) -> float:
    """Parse a battery level 0 <= B <= 1 (argparse type)."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text}: a battery level is between 0 and 1')
    return value


def share_below_one(text: str) -> float:
    """Parse a share 0 <= P < 1 (argparse type: word dropout)."""
    value = _finite(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f'{value} is outside 0 <= P < 1')
    return value


def count_at_least_one(text: str) -> int:
    """Parse a whole number >= 1 (argparse type: threads, epochs)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text}: must be at least 1')
    return value


def output_file(value: str, what: str) -> pathlib.Path:
    """
    Return ``value`` as a file to write, checked before any work is done.

    A run of minutes that ends in a traceback because its output folder is missing helps
    nobody: the folder must exist, and the path must not be a folder.
    """
    path = pathlib.Path(value).expanduser()
    if path.is_dir():
        raise CommandError(f'{what} {path} is a folder: give a file name')
    if not path.parent.is_dir():
        raise CommandError(f'{what} {path}: the folder {path.parent} does not exist')
    if not os.access(path.parent, os.W_OK):
        raise CommandError(f'{what} {path}: the folder {path.parent} is not writable')
    return path


def command_text(text: str) -> str:
    """Return a command given on the command line, refusing bytes that are not UTF-8."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError as error:
        raise CommandError(f'the command is not valid UTF-8 (character {error.start}; set '
                           'the terminal to UTF-8)') from None
    if not text.strip():
        raise CommandError('the command text is empty')
    return text


def progress_display():
    """Return a rich progress display on a terminal, a quiet stand-in otherwise."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    return Progress(TextColumn('{task.description:<22}'), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), disable=not sys.stderr.isatty(),
                    console=stderr_console())


class Terminated(KeyboardInterrupt):
    """SIGTERM during a long command: unwound as Ctrl-C is, so it cleans up the same way."""


@contextlib.contextmanager
def terminated_as_interrupt():
    """
    Within the block, SIGTERM raises ``Terminated`` (main thread only).

    A training killed by a supervisor (``kill``, a container stop) removes its staging folder
    and leaves the old artifacts as they were, as after Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def check_strategies(engine, names: Optional[List[str]], without: Sequence[str] = ()) -> None:
    """Raise CommandError for a strategy name the engine does not know (or ``without`` names)."""
    from adaptive_nlp_ros.core.inference.strategies import strategy_names

    known = [name for name in strategy_names(engine.context) if name not in without]
    for name in names or []:
        if name not in known:
            raise CommandError(f'unknown strategy {name!r}; known: {", ".join(known)}')
