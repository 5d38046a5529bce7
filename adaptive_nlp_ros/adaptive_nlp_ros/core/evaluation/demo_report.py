"""
The demo's record and report: what was played, what came back, and how it went.

``RunRecord`` collects, in the order they happen, the commands the player sent, the results
the controller published and the battery readings, each with its time since the start of the
run. ``write_report`` turns a record (complete or cut short by Ctrl-C) into a folder with
``report.md`` (summary, accuracy and cost by battery band and by configuration, every
command), ``report.png`` (battery, configuration, cumulative energy and accuracy over time)
and ``results.jsonl``. ``result_line`` is the one-line text of a result for the live view.

Energies are estimates (the profiled cost of what ran on this machine), and the report says so.
No ROS here: ``nodes/demo.py`` converts messages to ``ResultRow`` and feeds the record.
"""

from collections import Counter
from dataclasses import asdict, dataclass, field
import datetime
import json
import math
import pathlib
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from .scenario import KIND_IMAGE, KIND_TEXT, ScenarioCommand
from .structure_metrics import structure_summary
from ..inference.parse import describe, ParsedAction

STATUS_ANSWERED = 'answered'
BATTERY_BANDS = ((0.75, 1.0), (0.5, 0.75), (0.25, 0.5), (0.0, 0.25))


@dataclass
class ResultRow:
    """One InferenceResult as the demo keeps it."""

    time_s: float                        # since the start of the run, when it arrived
    request_id: int
    kind: str
    text: str
    status: str                          # answered | rejected | dropped
    label: str
    confidence: float
    strategy: str
    variant: str
    exit_layer: int
    num_layers: int
    precisions: Tuple[str, ...]
    threshold: float
    battery_fraction: float
    battery_stale: bool
    latency_ms: float
    energy_mj: float
    refined: bool = False
    reason: str = ''
    expected: str = ''                   # the scenario's label, once matched
    actions: Tuple[ParsedAction, ...] = ()            # the parse (text results)
    expected_actions: Tuple[ParsedAction, ...] = ()   # the scenario's, once matched

    @property
    def correct(self) -> Optional[bool]:
        """Return whether the answer matches the expected label (None when none is expected)."""
        if not self.expected:
            return None
        return self.status == STATUS_ANSWERED and self.label == self.expected


@dataclass
class PlayedCommand:
    """A scenario command and when the player sent it."""

    time_s: float
    command: ScenarioCommand


@dataclass
class RunRecord:
    """Everything one demo run saw, in arrival order."""

    scenario_name: str = ''
    settings: Dict[str, object] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.datetime.now().isoformat(
        timespec='seconds'))
    played: List[PlayedCommand] = field(default_factory=list)
    results: List[ResultRow] = field(default_factory=list)
    battery: List[Tuple[float, float]] = field(default_factory=list)   # (time_s, fraction)
    interrupted: bool = False

    def add_played(self, time_s: float, command: ScenarioCommand) -> None:
        """Record a command the player sent."""
        self.played.append(PlayedCommand(time_s, command))

    def add_result(self, row: ResultRow) -> ResultRow:
        """Record a result, matching it to its scenario command when possible."""
        self.results.append(row)
        self.match_expected()
        return row

    def add_battery(self, time_s: float, fraction: float) -> None:
        """Record a battery reading."""
        self.battery.append((time_s, fraction))

    def match_expected(self) -> int:
        """
        Give each result the expected label of its command; return how many were matched.

        Each topic delivers in order and the controller numbers commands in the order it
        receives them, so the n-th result of a kind (by request id) belongs to the n-th
        command of that kind played. Text results must also echo the command's text.
        """
        matched = 0
        for kind in (KIND_TEXT, KIND_IMAGE):
            rows = sorted((row for row in self.results if row.kind == kind),
                          key=lambda row: row.request_id)
            played = [item.command for item in self.played if item.command.kind == kind]
            for row, command in zip(rows, played):
                if kind == KIND_TEXT and row.text != command.text[:len(row.text)]:
                    row.expected = ''
                    row.expected_actions = ()
                    continue
                row.expected = command.expected_label
                row.expected_actions = command.expected_actions
                matched += 1
        return matched

    @property
    def complete(self) -> bool:
        """Return True when every played command has its result."""
        return bool(self.played) and len(self.results) >= len(self.played)


def configuration_label(row: ResultRow) -> str:
    """Return a short name of the configuration a result used (variant, layers, precisions)."""
    if row.status != STATUS_ANSWERED:
        return row.status
    if row.num_layers == 0:
        return row.variant
    return f'{row.variant} {row.exit_layer}/{row.num_layers} {_precisions(row.precisions)}'


def _precisions(precisions: Sequence[str]) -> str:
    """Return ``['int8', 'int8', 'bf16']`` as ``int8x2+bf16``."""
    parts: List[str] = []
    for precision in precisions:
        if parts and parts[-1].split('x')[0] == precision:
            base, _, count = parts[-1].partition('x')
            parts[-1] = f'{base}x{int(count or 1) + 1}'
        else:
            parts.append(precision)
    return '+'.join(parts) or '-'


def result_line(row: ResultRow) -> str:
    """Return the live view's line for one result (plain text)."""
    battery = 'battery   ?  ' if math.isnan(row.battery_fraction) else \
        f'battery {100.0 * row.battery_fraction:5.1f}%'
    if row.battery_stale:
        battery += ' STALE'
    shown = row.text if row.kind == KIND_TEXT else '[image]'
    shown = shown if len(shown) <= 38 else shown[:35] + '...'
    if row.status != STATUS_ANSWERED:
        return (f'#{row.request_id:<4} {row.time_s:6.1f}s {battery}  {shown!r:40} '
                f'{row.status.upper()}: {row.reason}')
    verdict = '' if row.correct is None else (' ok' if row.correct else f' WRONG '
                                              f'(expected {row.expected})')
    threshold = '' if math.isnan(row.threshold) else f' thr {row.threshold:.2f}'
    line = (f'#{row.request_id:<4} {row.time_s:6.1f}s {battery}  {shown!r:40} -> '
            f'{row.label:<12} {row.confidence:4.2f}{verdict:4}  {row.strategy}: '
            f'{configuration_label(row)}{threshold}  {row.latency_ms:6.1f} ms  '
            f'~{row.energy_mj:6.2f} mJ (est.)')
    if row.actions:
        line += '\n' + ' ' * 6 + '=> ' + describe(row.actions, row.text)
    return line


def _band(fraction: float) -> str:
    """Return the battery band a fraction falls in."""
    if math.isnan(fraction):
        return 'unknown'
    for low, high in BATTERY_BANDS:
        if fraction >= low:
            return f'{int(100 * low)}-{int(100 * high)} %'
    return f'0-{int(100 * BATTERY_BANDS[-1][1])} %'


def _accuracy(rows: Sequence[ResultRow]) -> Tuple[int, int]:
    """Return ``(correct, labelled)`` over rows that have an expected label."""
    verdicts = [row.correct for row in rows if row.correct is not None]
    return sum(1 for verdict in verdicts if verdict), len(verdicts)


def _number(value: Optional[float]) -> float:
    return math.nan if value is None else float(value)


def _ratio(correct: int, total: int) -> str:
    return f'{correct}/{total} = {correct / total:.3f}' if total else 'n/a'


def summarize(record: RunRecord) -> Dict[str, object]:
    """Return the headline numbers of a run."""
    results = record.results
    statuses = Counter(row.status for row in results)
    correct, labelled = _accuracy(results)
    answered = [row for row in results if row.status == STATUS_ANSWERED]
    latencies = sorted(row.latency_ms for row in answered)
    stops = [row for row in results if row.expected == 'stop']
    parsed = [row for row in results if row.expected_actions]
    structure = structure_summary([row.actions for row in parsed],
                                  [row.expected_actions for row in parsed])
    return {
        'played': len(record.played),
        'results': len(results),
        'answered': statuses.get(STATUS_ANSWERED, 0),
        'rejected': statuses.get('rejected', 0),
        'dropped': statuses.get('dropped', 0),
        'correct': correct,
        'labelled': labelled,
        'accuracy': correct / labelled if labelled else math.nan,
        'stops': len(stops),
        'stops_answered_stop': sum(1 for row in stops if row.correct),
        'parsed': len(parsed),
        'sequence_exact': structure.get('sequence_exact', math.nan),
        'argument_f1': _number(structure.get('argument_f1')),
        'energy_mj': sum(row.energy_mj for row in results),
        'median_latency_ms': statistics.median(latencies) if latencies else math.nan,
        'p95_latency_ms': latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies else math.nan,
        'configurations': len({configuration_label(row) for row in answered}),
        'battery_first': record.battery[0][1] if record.battery else math.nan,
        'battery_last': record.battery[-1][1] if record.battery else math.nan,
    }


def write_report(record: RunRecord, directory: pathlib.Path) -> pathlib.Path:
    """Write ``report.md``, ``report.png`` and ``results.jsonl`` into ``directory``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record.match_expected()
    with open(directory / 'results.jsonl', 'w', encoding='utf-8') as stream:
        for row in record.results:
            stream.write(json.dumps(asdict(row), allow_nan=True) + '\n')
    plotted = plot_run(record, directory / 'report.png')
    path = directory / 'report.md'
    path.write_text(report_markdown(record, 'report.png' if plotted else None),
                    encoding='utf-8')
    return path


def _structure(summary: Dict[str, object]) -> str:
    if not summary['parsed']:
        return 'n/a (the scenario gives no parse)'
    f1 = summary['argument_f1']
    return (f'{summary["sequence_exact"]:.3f} / '
            f'{"n/a" if math.isnan(f1) else format(f1, ".3f")} over {summary["parsed"]}')


def report_markdown(record: RunRecord, plot_name: Optional[str] = 'report.png') -> str:
    """Return the markdown report of a run."""
    summary = summarize(record)
    interrupted = (' **Interrupted (Ctrl-C): the report covers what ran.**'
                   if record.interrupted else '')
    lines = [f'# Demo run: {record.scenario_name or "scenario"}', '',
             f'Started {record.started}.{interrupted}']
    if record.settings:
        lines += ['', 'Settings: ' + ', '.join(f'`{key}={value}`'
                                               for key, value in record.settings.items())]
    battery = ('n/a' if math.isnan(summary['battery_first']) else
               f'{100 * summary["battery_first"]:.1f} % -> {100 * summary["battery_last"]:.1f} %')
    lines += [
        '',
        '| | |',
        '|---|---|',
        f'| commands played | {summary["played"]} |',
        f'| results | {summary["results"]} (answered {summary["answered"]}, rejected '
        f'{summary["rejected"]}, dropped {summary["dropped"]}) |',
        f'| accuracy against the scenario labels | '
        f'{_ratio(summary["correct"], summary["labelled"])} |',
        f'| stop commands answered `stop` | {summary["stops_answered_stop"]} of '
        f'{summary["stops"]} |',
        f'| commands with an expected parse: sequence exact / argument F1 | '
        f'{_structure(summary)} |',
        f'| estimated energy, total | {summary["energy_mj"]:.1f} mJ |',
        f'| latency, median / p95 | {summary["median_latency_ms"]:.1f} / '
        f'{summary["p95_latency_ms"]:.1f} ms |',
        f'| battery | {battery} |',
        f'| distinct configurations | {summary["configurations"]} |',
        '',
        'Energy is an estimate: the profiled cost on this machine of the segments that ran '
        '(`adaptive-nlp profile`), not a measurement.',
    ]
    if plot_name:
        lines += ['', f'![battery, configuration, energy and accuracy over time]({plot_name})']
    lines += ['', '## By battery band', '',
              '| battery | commands | accuracy | mean energy (mJ, est.) | most used '
              'configuration |', '|---|---|---|---|---|']
    bands: Dict[str, List[ResultRow]] = {}
    for row in record.results:
        bands.setdefault(_band(row.battery_fraction), []).append(row)
    for band, rows in bands.items():
        common, count = Counter(configuration_label(row) for row in rows).most_common(1)[0]
        lines.append(f'| {band} | {len(rows)} | {_ratio(*_accuracy(rows))} | '
                     f'{statistics.fmean(row.energy_mj for row in rows):.2f} | '
                     f'{common} ({count}) |')
    lines += ['', '## By configuration', '',
              '| strategy | configuration | commands | accuracy | mean energy (mJ, est.) |',
              '|---|---|---|---|---|']
    groups: Dict[Tuple[str, str], List[ResultRow]] = {}
    for row in record.results:
        groups.setdefault((row.strategy, configuration_label(row)), []).append(row)
    for (strategy, label), rows in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f'| {strategy} | {label} | {len(rows)} | {_ratio(*_accuracy(rows))} | '
                     f'{statistics.fmean(row.energy_mj for row in rows):.2f} |')
    lines += ['', '## Every result', '',
              '| id | t (s) | battery | command | expected | answer | confidence | actions | '
              'configuration | latency (ms) | energy (mJ, est.) |',
              '|---|---|---|---|---|---|---|---|---|---|---|']
    for row in sorted(record.results, key=lambda row: row.request_id):
        shown = (row.text if row.kind == KIND_TEXT else '[image]').replace('|', '\\|')
        answer = row.label if row.status == STATUS_ANSWERED else row.status
        mark = '' if row.correct is None else (' ✓' if row.correct else ' ✗')
        battery = 'n/a' if math.isnan(row.battery_fraction) else \
            f'{100 * row.battery_fraction:.0f} %'
        lines.append(f'| {row.request_id} | {row.time_s:.1f} | {battery} | {shown[:80]} | '
                     f'{row.expected} | {answer}{mark} | {row.confidence:.2f} | '
                     f'{describe(row.actions, row.text).replace("|", "/")} | '
                     f'{row.strategy}: {configuration_label(row)} | {row.latency_ms:.1f} | '
                     f'{row.energy_mj:.2f} |')
    return '\n'.join(lines) + '\n'


def load_plotting():
    """
    Import matplotlib (Agg backend) and return ``pyplot``.

    About 0.3 s on an idle machine: the demo calls it before its nodes spin, so that a Ctrl-C
    does not wait for it.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_run(record: RunRecord, path: pathlib.Path) -> bool:
    """Plot battery, configuration, cumulative energy and accuracy over time; False if empty."""
    if not record.results and not record.battery:
        return False
    plt = load_plotting()

    rows = sorted(record.results, key=lambda row: row.time_s)
    figure, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True,
                                gridspec_kw={'height_ratios': [1, 1.6, 1, 1]})
    battery_axis, configuration_axis, energy_axis, accuracy_axis = axes
    if record.battery:
        times, fractions = zip(*record.battery)
        battery_axis.plot(times, [100 * value for value in fractions], color='tab:green')
    battery_axis.set_ylabel('battery (%)')
    battery_axis.set_ylim(0, 105)
    battery_axis.set_title(f'Demo run: {record.scenario_name}')

    labels = sorted({configuration_label(row) for row in rows},
                    key=lambda label: _configuration_order(label, rows))
    position = {label: index for index, label in enumerate(labels)}
    for verdict, color, name in ((True, 'tab:blue', 'right'), (False, 'tab:red', 'wrong'),
                                 (None, 'tab:gray', 'no label')):
        chosen = [row for row in rows if row.correct is verdict]
        if chosen:
            configuration_axis.scatter([row.time_s for row in chosen],
                                       [position[configuration_label(row)] for row in chosen],
                                       color=color, s=18, label=name)
    configuration_axis.set_yticks(range(len(labels)))
    configuration_axis.set_yticklabels(labels, fontsize=7)
    configuration_axis.set_ylabel('configuration')
    configuration_axis.legend(loc='upper right', fontsize=7)

    cumulative, total = [], 0.0
    for row in rows:
        total += row.energy_mj
        cumulative.append(total)
    energy_axis.step([row.time_s for row in rows], cumulative, where='post', color='tab:orange')
    energy_axis.set_ylabel('cumulative energy\n(mJ, estimate)')

    points, correct, labelled = [], 0, 0
    for row in rows:
        if row.correct is not None:
            labelled += 1
            correct += int(row.correct)
            points.append((row.time_s, correct / labelled))
    if points:
        accuracy_axis.plot(*zip(*points), color='tab:purple')
    accuracy_axis.set_ylabel('accuracy so far')
    accuracy_axis.set_ylim(0, 1.05)
    accuracy_axis.set_xlabel('time since start (s)')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _configuration_order(label: str, rows: Sequence[ResultRow]) -> Tuple[float, str]:
    """Order configurations by their mean energy, so cheaper ones sit lower on the plot."""
    energies = [row.energy_mj for row in rows if configuration_label(row) == label]
    return (statistics.fmean(energies) if energies else 0.0, label)
