"""Turn the results of ``run_all.py`` into bench/RESULTS.md and plots, every target checked."""

import pathlib
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

ESTIMATE = 'estimate: profiled CPU time x 4 W per busy core; these machines expose no RAPL'
LIBRARY = 'library forward (transformers fp32)'
ORT_INT8 = 'ONNX Runtime whole graph int8'
ADAPTIVE = ('energy_greedy', 'fuzzy_complexity', 'moe_gate', 'early_exit', 'segment_precision',
            'moe_routing', 'progressive')


def branchynet(engine, passes: int) -> Dict:
    """Benchmark the artifacts' image BranchyNet on its own test split."""
    import bench_branchynet
    from adaptive_nlp_ros.core import artifacts
    from adaptive_nlp_ros.core.inference.image_branchynet import BranchyNetClassifier

    directory = engine.models.directory
    classifier = BranchyNetClassifier.load(directory / artifacts.IMAGE_DIR)
    if classifier.split_seed is None:
        raise RuntimeError(f'{directory}: the image model does not record its digit split; '
                           'rebuild the artifacts')
    return bench_branchynet.benchmark(classifier, classifier.split_seed, passes, 300)


def _mean_ms(row: Dict) -> float:
    return row['ms_per_command']['mean']


def _check(rows: List[Tuple[str, str, bool]], target: str, measured: str, ok: bool) -> None:
    rows.append((target, measured, ok))


# First-action accuracy of full on the 14-label test split before issue 12 (RESULTS.md of
# 2026-11-29): the relabelled split must do no worse.
LEGACY_LABEL_ACCURACY = 0.929


def _structure_targets(checks: List[Tuple[str, str, bool]], structure: Dict) -> None:
    """Issue 12's targets: the parse of full and early_exit, and what structure costs."""
    quality, cost = structure['quality'], structure['cost']
    for name in ('held-out family', 'hand-written'):
        full, early = quality[name]['full'], quality[name]['early_exit']
        _check(checks, f'{name}: full first-action >= 0.95, sequence exact >= 0.90, argument '
               'F1 >= 0.90', f'{full["accuracy"]:.3f} / {full["sequence_exact"]:.3f} / '
               f'{full["argument_f1"]:.3f}', full['accuracy'] >= 0.95
               and full['sequence_exact'] >= 0.90 and full['argument_f1'] >= 0.90)
        gaps = [full[key] - early[key] for key in ('accuracy', 'sequence_exact', 'argument_f1')]
        _check(checks, f'{name}: early_exit within 1 pt of full on each, >= 3x lower latency',
               f'{early["accuracy"]:.3f} / {early["sequence_exact"]:.3f} / '
               f'{early["argument_f1"]:.3f} (worst gap {max(gaps) * 100:+.1f} pt), '
               f'{cost["early_exit_speedup"]:.2f}x',
               max(gaps) <= 0.01 and cost['early_exit_speedup'] >= 3.0)
    legacy = quality['legacy relabelled']['full']['accuracy']
    _check(checks, f'legacy test split relabelled: full first-action >= {LEGACY_LABEL_ACCURACY}'
           ' (its label accuracy before)', f'{legacy:.3f}', legacy >= LEGACY_LABEL_ACCURACY)
    for name, ceiling in (('full', 0.15), ('early_exit', 0.25)):
        overhead = cost[name]['overhead']
        _check(checks, f'structure adds <= {ceiling * 100:.0f}% to {name} mean latency, batch 1',
               f'{overhead * 100:+.0f}% ({cost[name]["label_only_ms"]:.2f} -> '
               f'{cost[name]["with_structure_ms"]:.2f} ms)', overhead <= ceiling)


def targets(results: Dict) -> List[Tuple[str, str, bool]]:
    """Return (target, measured, met) for every target of the issues."""
    checks: List[Tuple[str, str, bool]] = []
    batch1 = results['batch_1']['rows']
    library_ms = _mean_ms(batch1[LIBRARY])
    ort_int8_ms = _mean_ms(batch1[ORT_INT8])
    full = batch1['strategy full']
    sources = results['accuracy_by_source']
    _check(checks, 'full fp32 >= 95% on the test split',
           f'{sources["all"]:.3f}', sources['all'] >= 0.95)
    _check(checks, 'full fp32 >= 90% on the hand-written part',
           f'{sources["handwritten"]:.3f}', sources['handwritten'] >= 0.90)
    _structure_targets(checks, results['structure'])
    for mode, factor in (('int8', 2.5), ('ort_int8', 2.5), ('int4', 2.0)):
        row = batch1[f'ours: full pass {mode}']
        speedup = library_ms / _mean_ms(row)
        loss = batch1['ours: full pass fp32']['accuracy'] - row['accuracy']
        _check(checks, f'{mode} full pass >= {factor}x faster than the fp32 reference (library'
               f' forward), batch 1' + (', <= 0.5 pt loss' if 'int8' in mode else ''),
               f'{speedup:.2f}x, {loss * 100:+.1f} pt loss',
               speedup >= factor and ('int8' not in mode or loss <= 0.005))
    ratio = _mean_ms(batch1['ours: full pass ort_int8']) / ort_int8_ms
    _check(checks, 'ONNX Runtime int8 segment loop within 1.5x of ONNX Runtime whole-graph int8',
           f'{ratio:.2f}x', ratio <= 1.5)
    for mode in ('fp32', 'ort_int8'):
        library_share = _mean_ms(batch1[f'ours: 2 layers {mode}']) / library_ms
        ours = _mean_ms(batch1[f'ours: 2 layers {mode}']) / _mean_ms(
            batch1['ours: full pass fp32'])
        _check(checks, f'exit after 2 layers ({mode}) <= 35% of our own fp32 full pass (same '
               'code, same tokenization)', f'{ours * 100:.0f}% ({library_share * 100:.0f}% of '
               'the library forward)', ours <= 0.35)
    early = batch1['strategy early_exit']
    speedup = _mean_ms(full) / _mean_ms(early)
    loss = full['accuracy'] - early['accuracy']
    _check(checks, 'early_exit >= 3x lower latency than full, <= 1 pt loss (batch 1)',
           f'{speedup:.2f}x, {loss * 100:+.1f} pt', speedup >= 3 and loss <= 0.01)
    best_name, best = _best_adaptive(batch1, full['accuracy'])
    if best is None:
        _check(checks, 'best adaptive strategy >= 5x lower latency than full at <= 1 pt loss',
               'no strategy within 1 pt', False)
    else:
        speedup = _mean_ms(full) / _mean_ms(best)
        _check(checks, 'best adaptive strategy >= 5x lower latency than full at <= 1 pt loss',
               f'{best_name}: {speedup:.2f}x', speedup >= 5)
        _check(checks, 'best adaptive strategy >= 5x faster than the library forward',
               f'{best_name}: {library_ms / _mean_ms(best):.2f}x',
               library_ms / _mean_ms(best) >= 5)
        _check(checks, 'best adaptive strategy faster than ONNX Runtime whole-graph int8',
               f'{best_name}: {ort_int8_ms / _mean_ms(best):.2f}x', _mean_ms(best) < ort_int8_ms)
    decisions = results['overheads']['decision_us']
    worst = max(decisions, key=lambda name: decisions[name]['median'])
    _check(checks, 'decision overhead median <= 50 us for every strategy',
           f'worst {worst}: {decisions[worst]["median"]:.1f} us',
           decisions[worst]['median'] <= 50)
    check = results['budget_30_percent']
    budget, budget_mj = check['strategies'], check['budget_mj']
    full_accuracy = budget['full']['accuracy']
    within = [name for name in ADAPTIVE if budget[name]['measured_mj_ordinary'] <= budget_mj]
    best_budget = max(within or ADAPTIVE, key=lambda name: budget[name]['accuracy'])
    row = budget[best_budget]
    gap = full_accuracy - row['accuracy']
    _check(checks, "at 30% of full's measured energy per command, best adaptive that stays "
           'within the budget (measured, possible stops apart) within 1 pt of full',
           f'{best_budget}: {gap * 100:+.1f} pt, measured {row["measured_mj_ordinary"]:.2f} mJ '
           f'vs budget {budget_mj:.2f} mJ; over budget: '
           + (', '.join(f'{name} {budget[name]["measured_mj_ordinary"]:.2f}'
                        for name in ADAPTIVE if name not in within) or 'none'),
           bool(within) and gap <= 0.01)
    stop_ok = True
    worst_stop = ''
    for battery, level in results['battery_levels'].items():
        strategies = level['strategies']
        reference = strategies['full']['per_label_recall'].get('stop', 0.0)
        for name in ADAPTIVE:
            recall = strategies[name]['per_label_recall'].get('stop', 0.0)
            if recall < reference:
                stop_ok = False
                worst_stop = f'{name} at {battery}: {recall:.3f} < {reference:.3f}'
    _check(checks, "stop recall of every strategy at every battery level >= full's",
           worst_stop or 'all equal or higher', stop_ok)
    for mode, criteria in results['early_exit_criteria'].items():
        comparison = [row for row in criteria['confidence_vs_patience'] if row['in_range']]
        outside = len(criteria['confidence_vs_patience']) - len(comparison)
        worse = [row for row in comparison
                 if row['confidence_accuracy'] + 1e-9 < row['pabee_accuracy']]
        _check(checks, f'confidence exit at least as accurate as PABEE at equal mean layers '
               f'({mode}; only where both curves were measured)',
               f'{len(comparison) - len(worse)}/{len(comparison)} points ({outside} PABEE '
               "point(s) outside the confidence curve's range, not compared)",
               bool(comparison) and not worse)
    energy = results['energy_scenario']
    scenario = energy['strategies']
    full_row = scenario['full']
    reference_stop = energy['reference_stop_recall']
    candidates = [name for name in ADAPTIVE
                  if scenario[name]['answered'] == scenario[name]['commands']]
    if candidates:
        name = max(candidates, key=lambda n: scenario[n]['accuracy_over_all'])
        row = scenario[name]
        gap = full_row['accuracy_on_commands_full_answered'] - row[
            'accuracy_on_commands_full_answered']
        _check(checks, 'energy scenario (battery drained by measured energy): best adaptive '
               'answers every command, within 2 pt of full on the commands full answered, '
               'stop recall >= that of full answering every command',
               f'{name}: {row["answered"]}/{row["commands"]} answered, {gap * 100:+.1f} pt, '
               f'stop recall {row["stop_recall"]:.3f} vs {reference_stop:.3f}',
               gap <= 0.02 and row['stop_recall'] >= reference_stop)
    else:
        _check(checks, 'energy scenario: best adaptive answers every command', 'none did',
               False)
    controller = results.get('controller')
    if controller:
        overhead = controller['end_to_end_minus_engine_ms']
        _check(checks, 'controller end-to-end latency (publish to result) median <= bare engine '
               '+ 2 ms', f'{controller["end_to_end_ms"]["median"]:.2f} ms vs engine '
               f'{controller["bare_engine_ms"]["median"]:.2f} ms ({overhead:+.2f} ms)',
               overhead <= 2.0)
        load = controller['sustained']
        growth = (load['rss_mb_end'] or 0) - (load['rss_mb_start'] or 0)
        _check(checks, f'{load["rate_hz"]:.0f} commands/s for {load["duration_s"]:.0f} s with '
               'early_exit and the default parameters (queue_size 100): every command '
               'answered, no memory growth',
               f'{load["answered"]}/{load["sent"]} answered, {load["dropped"]} dropped, RSS '
               f'{load["rss_mb_start"]:.0f} -> {load["rss_mb_end"]:.0f} MB',
               load['answered'] == load['sent'] and growth < 20)
        _check(checks, 'controller resident memory <= 700 MB with the default pool',
               f'{controller["rss_ready_mb"]:.0f} MB after start, {controller["rss_end_mb"]:.0f}'
               ' MB at the end', max(controller['rss_ready_mb'], controller['rss_end_mb']) <= 700)
        _check(checks, 'controller ready to answer within 15 s of start',
               f'{controller["ready_s"]:.1f} s', controller['ready_s'] <= 15)
    if results.get('stop_check'):
        import bench_stop_check
        for target, measured, met in bench_stop_check.checks(results['stop_check']):
            _check(checks, target, measured, met)
    static = results.get('static_tier')
    if static:
        accuracy, median = static['accuracy'], static['median_us']
        shown = '; '.join(f'{name} {accuracy["static"][name]:.3f} vs '
                          f'{accuracy["TF-IDF"][name]:.3f}'
                          for name in ('held-out family', 'hand-written', 'dev'))
        from bench_static_tier import STATIC_TIMED
        _check(checks, 'the static tier alone: accuracy and latency beside TF-IDF (section 11)',
               f'accuracy static vs TF-IDF: {shown}; median {median[STATIC_TIMED]:.0f} vs '
               f'{median["TF-IDF"]:.0f} us', True)
    image = results['branchynet']
    chosen = image['chosen_on_dev']
    on_test = chosen['test']
    _check(checks, 'image BranchyNet >= 3x faster than its full network at equal or better '
           'accuracy (threshold chosen on dev, figures on test)',
           f'{on_test["speedup_mean"]:.2f}x at threshold {chosen["threshold"]}, accuracy '
           f'{on_test["accuracy"]:.4f} vs {image["full"]["accuracy"]:.4f}',
           on_test['speedup_mean'] >= 3 and on_test['accuracy'] >= image['full']['accuracy'])
    return checks


def _best_adaptive(rows: Dict, full_accuracy: float):
    eligible = [(name, rows[f'strategy {name}']) for name in ADAPTIVE
                if rows[f'strategy {name}']['accuracy'] >= full_accuracy - 0.01]
    if not eligible:
        return None, None
    return min(eligible, key=lambda item: _mean_ms(item[1]))


def _latency_table(section: Dict) -> List[str]:
    lines = ['| configuration | accuracy | ms / command (mean) | median | IQR | x vs library '
             '| x vs ORT int8 | x vs our fp32 |', '|---|---|---|---|---|---|---|---|']
    for name, row in section['rows'].items():
        latency = row['ms_per_command']
        speed = row['speedup_vs']
        lines.append(f'| {name} | {row["accuracy"]:.3f} | {latency["mean"]:.3f} | '
                     f'{latency["median"]:.3f} | {latency["iqr"]:.3f} | '
                     f'{speed[LIBRARY]:.2f} | {speed[ORT_INT8]:.2f} | '
                     f'{speed["ours: full pass fp32"]:.2f} |')
    return lines


def _plots(results: Dict, out: pathlib.Path) -> List[str]:
    names = []
    rows = results['batch_1']['rows']
    figure, axis = plt.subplots(figsize=(8, 5))
    for name, row in rows.items():
        axis.scatter(_mean_ms(row), row['accuracy'], s=40)
        axis.annotate(name.replace('strategy ', '').replace('ours: full pass ', 'pass '),
                      (_mean_ms(row), row['accuracy']), fontsize=6)
    axis.set_xscale('log')
    axis.set_xlabel('ms per command, batch 1 (log)')
    axis.set_ylabel('accuracy (test split)')
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / 'latency_accuracy.png', dpi=110)
    plt.close(figure)
    names.append('latency_accuracy.png')
    for mode, criteria in results['early_exit_criteria'].items():
        figure, axis = plt.subplots(figsize=(7, 4.5))
        for label, points in criteria['curves'].items():
            ordered = sorted(points, key=lambda p: p['mean_layers'])
            axis.plot([p['mean_layers'] for p in ordered], [p['accuracy'] for p in ordered],
                      marker='o', label=label)
        oracle = criteria['oracle_exit']
        axis.scatter([oracle['mean_layers']], [oracle['accuracy']], marker='*', s=150,
                     color='k', label='oracle exit (bound)')
        axis.set_xlabel('mean layers run')
        axis.set_ylabel('accuracy')
        axis.set_title(f'early-exit criteria on the same heads ({mode})')
        axis.grid(True, alpha=0.3)
        axis.legend()
        figure.tight_layout()
        filename = f'early_exit_criteria_{mode}.png'
        figure.savefig(out / filename, dpi=110)
        plt.close(figure)
        names.append(filename)
    scenario = results['energy_scenario']['strategies']
    figure, axis = plt.subplots(figsize=(9, 4.5))
    labels = list(scenario)
    axis.bar(range(len(labels)), [scenario[n]['accuracy_over_all'] for n in labels],
             label='accuracy over all commands')
    axis.plot(range(len(labels)), [scenario[n]['answered'] / scenario[n]['commands']
                                   for n in labels], 'k.', label='share answered')
    axis.set_xticks(range(len(labels)))
    axis.set_xticklabels([n.replace('static:', 's:') for n in labels], rotation=60, ha='right',
                         fontsize=7)
    axis.legend()
    axis.set_title('energy scenario: a battery that affords 40% of the commands at full')
    figure.tight_layout()
    figure.savefig(out / 'energy_scenario.png', dpi=110)
    plt.close(figure)
    names.append('energy_scenario.png')
    return names


def _structure_section(structure: Dict) -> List[str]:
    """The parse on each test set, and structure's cost (issue 12)."""
    lines = ['## Structured understanding (issue 12)', '',
             'Each set apart: training never saw any of them (see data/CORPUS.md).', '',
             '| test set | commands | strategy | first action | sequence exact | argument P / R '
             '/ F1 | mean layers |', '|---|---|---|---|---|---|---|']
    for name, rows in structure['quality'].items():
        for strategy in ('full', 'early_exit'):
            row = rows[strategy]

            def show(key, row=row):
                return '-' if row.get(key) is None else f'{row[key]:.3f}'
            lines.append(f'| {name} | {rows["n"]} | {strategy} | {show("accuracy")} | '
                         f'{show("sequence_exact")} | {show("argument_precision")} / '
                         f'{show("argument_recall")} / {show("argument_f1")} | '
                         f'{row["mean_layers"]:.2f} |')
    cost = structure['cost']
    lines += ['', f'Cost of structure, batch 1, {cost["timed_commands"]} commands x '
              f'{cost["passes"]} passes interleaved (label only = no tag heads, no decoding; '
              'early exit then waits for the label alone):', '',
              '| strategy | label only ms | with structure ms | overhead | mean exit layer '
              '(label only -> with) |', '|---|---|---|---|---|']
    for name in ('full', 'early_exit'):
        row = cost[name]
        lines.append(f'| {name} | {row["label_only_ms"]:.2f} | {row["with_structure_ms"]:.2f} '
                     f'| {row["overhead"] * 100:+.0f}% | {row["mean_exit_layer_label_only"]:.2f}'
                     f' -> {row["mean_exit_layer_with"]:.2f} |')
    return (lines + [''] + _cheap_tier_section(structure.get('cheap_tier')) + ['']
            + _exit_criteria_section(structure.get('exit_criteria')))


def _exit_criteria_section(compared: Dict) -> List[str]:
    """Early-exit criteria on the whole parse: tuned on dev, then applied under shift."""
    if not compared:
        return []
    sets = [name for name in compared['n'] if name != compared['tuning_set']]
    lines = [f'Early-exit criteria on the whole parse (bench_exit_structure.py; layers in '
             f'{compared["mode"]}). Each setting is the cheapest within '
             f'{compared["tolerance"] * 100:.0f} point of the last exit on '
             f'{compared["tuning_set"]} on all three figures, then applied unchanged; '
             '"holds" = still within that point on the set. Figures: first action / '
             'sequence exact / argument F1, mean layers.', '',
             '| criterion | setting | ' + ' | '.join(sets) + ' |',
             '|---|---|' + '---|' * len(sets)]

    def cell(point: Dict) -> str:
        holds = '' if 'holds' not in point else (' holds' if point['holds'] else ' **no**')
        return (f'{point["accuracy"]:.3f} / {point["sequence_exact"]:.3f} / '
                f'{point["argument_f1"]:.3f}, {point["mean_layers"]:.2f}{holds}')
    for criterion, row in compared['criteria'].items():
        if row['setting'] is None:
            lines.append(f'| {criterion} | none within tolerance on '
                         f'{compared["tuning_set"]} |' + ' |' * len(sets))
            continue
        lines.append(f'| {criterion} | {row["setting"]} | '
                     + ' | '.join(cell(row['sets'][name]) for name in sets) + ' |')
    for label, key in (('last exit', 'last_exit'), ('oracle (first right exit)', 'oracle')):
        lines.append(f'| {label} | - | '
                     + ' | '.join(cell(compared[key][name]) for name in sets) + ' |')
    return lines


def _cheap_tier_section(cheap: Dict) -> List[str]:
    """How the cheap tier gets its structure: the options measured side by side."""
    if not cheap:
        return []
    lines = [f'The cheap tier\'s structure, measured to choose (backbone = '
             f'{cheap["backbone_variant"]}, the cheapest MiniLM variant; latency from evaluate, '
             'not interleaved):', '',
             '| test set | option | first action | sequence exact | argument F1 | mean ms |',
             '|---|---|---|---|---|---|']
    for name, rows in cheap.items():
        if name == 'backbone_variant':
            continue
        for option, row in rows.items():
            lines.append(f'| {name} | {option} | {row["accuracy"]:.3f} | '
                         f'{row["sequence_exact"]:.3f} | {row["argument_f1"]:.3f} | '
                         f'{row["mean_latency_ms"]:.2f} |')
    return lines


def write(results: Dict, out: pathlib.Path) -> None:
    """Write RESULTS.md and the plots."""
    environment = results['environment']
    machine = environment['machine']
    lines = ['# Benchmark results', '',
             'Regenerate with `make bench` (or `bin/env-run python bench/run_all.py`); '
             'numbers below are from one run of it.', '',
             f'- Machine: {machine["cpu_model"]}, {machine["logical_cpus"]} logical CPUs, '
             f'{machine["machine"]}, Python {machine["python"]}; RAPL: '
             f'{"yes" if machine["rapl_available"] else "no"}',
             "- Threads: batch 1 runs on 1 thread (the controller's setting: on a shared "
             '2-core CPU, 2 threads make batch-1 inference 20-50x slower whenever another '
             'process is busy); batch 32 on 2 threads.',
             '- Versions: ' + ', '.join(f'{k} {v}' for k, v in environment['versions'].items()),
             f'- Date: {environment["date"]}; total run {results["seconds"]:.0f} s'
             + (' (QUICK mode: fewer commands and passes)' if results.get('quick') else ''),
             f'- Energy figures are ESTIMATES ({ESTIMATE}).',
             f'- Latency: configurations interleaved per command, {results["batch_1"]["passes"]}'
             f' passes; per-command median over passes, then mean / median / IQR over '
             f'{results["batch_1"]["timed_commands"]} commands. Accuracy over all '
             f'{results["batch_1"]["accuracy_commands"]} test commands. Latency includes '
             'tokenization (and, for strategies, the stop check and decisions); the engine\'s '
             'TF-IDF memo is cleared before every strategy answer, so none reuses another\'s '
             'look at the same command.', '']
    lines += ['## Targets', '', '| target | measured | met |', '|---|---|---|']
    for target, measured, ok in targets(results):
        lines.append(f'| {target} | {measured} | {"yes" if ok else "**no**"} |')
    lines += [''] + _structure_section(results['structure'])
    lines += ['', '## 1. Plain baselines, our passes and every strategy', '',
              '### Batch 1 (1 thread)', ''] + _latency_table(results['batch_1'])
    lines += ['', '### Batch 32 (2 threads; per-command time = batch time / 32)', '']
    lines += _latency_table(results['batch_32'])
    lines += ['', '## 2. Early-exit criteria on the same heads', '']
    for mode, criteria in results['early_exit_criteria'].items():
        lines += [f'### Layers in {mode} (last exit accuracy {criteria["last_exit_accuracy"]:.3f}'
                  f'; oracle exit: {criteria["oracle_exit"]["accuracy"]:.3f} at '
                  f'{criteria["oracle_exit"]["mean_layers"]:.2f} layers)', '',
                  '| criterion | setting | accuracy | mean layers | est. ms |',
                  '|---|---|---|---|---|']
        for name, points in criteria['curves'].items():
            for point in points:
                setting = point.get('threshold', point.get('patience'))
                lines.append(f'| {name} | {setting} | {point["accuracy"]:.3f} | '
                             f'{point["mean_layers"]:.2f} | {point["estimated_ms"]:.2f} |')
        lines += ['', '| mean layers (PABEE point) | PABEE accuracy | confidence accuracy |',
                  '|---|---|---|']
        for row in criteria['confidence_vs_patience']:
            confidence = (f'{row["confidence_accuracy"]:.3f}' if row['in_range']
                          else 'not measured (outside its range)')
            lines.append(f'| {row["mean_layers"]:.2f} | {row["pabee_accuracy"]:.3f} | '
                         f'{confidence} |')
        lines.append('')
    scenario = results['energy_scenario']
    lines += ['## 3. Energy scenario', '',
              f'A battery whose usable energy ({scenario["usable_energy_mj"]:.0f} mJ, estimate) '
              f'is 40% of what `full` measurably spends on all '
              f'{scenario["strategies"]["full"]["commands"]} commands; each answered command '
              'drains its measured energy (CPU time x power model), not the cost model the '
              'strategies plan with; unanswered commands count as wrong. Stop recall of `full` '
              f'answering every command: {scenario["reference_stop_recall"]:.3f}.', '',
              '| strategy | answered | accuracy over all | accuracy on commands full answered '
              '| measured mJ / answered | planned mJ / answered | over its budget | stop recall '
              '|', '|---|---|---|---|---|---|---|---|']
    for name, row in scenario['strategies'].items():
        lines.append(f'| {name} | {row["answered"]}/{row["commands"]} | '
                     f'{row["accuracy_over_all"]:.3f} | '
                     f'{row["accuracy_on_commands_full_answered"]:.3f} | '
                     f'{row["energy_per_answered_mj"]:.2f} | '
                     f'{row["planned_energy_per_answered_mj"]:.2f} | '
                     f'{row["over_budget_share"] * 100:.0f}% | {row["stop_recall"]:.3f} |')
    lines += ['', "## 4. Strategies at battery levels (stop recall) and at 30% of full's energy",
              '', '| strategy | ' + ' | '.join(f'acc @ {b} | mJ @ {b} | stop @ {b}'
                                               for b in results['battery_levels']) + ' |',
              '|---|' + '---|---|---|' * len(results['battery_levels'])]
    names = list(next(iter(results['battery_levels'].values()))['strategies'])
    for name in names:
        cells = []
        for level in results['battery_levels'].values():
            row = level['strategies'][name]
            cells.append(f'{row["accuracy"]:.3f} | {row["mean_energy_mj"]:.2f} | '
                         f'{row["per_label_recall"].get("stop", 0):.3f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    budget = results['budget_30_percent']
    lines += ['', f'Per-command budget {budget["budget_mj"]:.2f} mJ: 30% of full\'s measured '
              f'mean energy ({budget["full_measured_mj"]:.2f} mJ; CPU time x power model, an '
              'estimate). Measured is what ran, planned what the strategy budgeted with; '
              'possible stops take the safety path whatever the budget and are shown apart.',
              '', '| strategy | accuracy | measured mJ (ordinary commands) | planned mJ '
              '(ordinary) | ordinary commands over budget | measured mJ (all) | safety-path '
              'share | mean layers |', '|---|---|---|---|---|---|---|---|']
    for name, row in budget['strategies'].items():
        lines.append(f'| {name} | {row["accuracy"]:.3f} | {row["measured_mj_ordinary"]:.2f} | '
                     f'{row["planned_mj_ordinary"]:.2f} | '
                     f'{row["ordinary_over_budget_share"] * 100:.0f}% | '
                     f'{row["measured_mj"]:.2f} | {row["safety_path_share"] * 100:.0f}% | '
                     f'{row["mean_layers"]:.2f} |')
    overheads = results['overheads']
    mixed = overheads['mixed_precision_pass']
    lines += ['', '## 5. Overheads', '', '| strategy | decision median (us) | IQR |',
              '|---|---|---|']
    for name, row in overheads['decision_us'].items():
        lines.append(f'| {name} | {row["median"]:.1f} | {row["iqr"]:.1f} |')
    lines += ['', f'Mixed-precision pass ({" / ".join(mixed["modes"])}, one mode per layer): '
              f'{mixed["mixed_ms"]["median"]:.3f} ms against '
              f'{mixed["sum_of_segments_alone_ms"]["median"]:.3f} ms for the same layers run '
              'alone: switching overhead '
              f'{mixed["switching_overhead"] * 100:+.1f}%.', '']
    controller = results.get('controller')
    if controller:
        load = controller['sustained']
        lines += ['## 6. The controller on loopback', '',
                  f'`controller_node` in its own process ({controller["strategy"]}, 1 thread, '
                  'every other parameter at its default, queue_size 100 included), commands '
                  'from this process over Fast DDS on localhost.', '',
                  f'- SIGINT to exit: {controller.get("sigint_to_exit_s", float("nan")):.2f} s, '
                  f'status {controller.get("exit_status")}',
                  f'- ready to answer {controller["ready_s"]:.1f} s after start; resident memory '
                  f'{controller["rss_ready_mb"]:.0f} MB then, {controller["rss_end_mb"]:.0f} MB '
                  'at the end',
                  '- one command at a time: publish to result '
                  f'{controller["end_to_end_ms"]["median"]:.2f} ms median (p95 '
                  f'{controller["end_to_end_ms"]["p95"]:.2f}); the controller\'s own '
                  'receipt-to-publication '
                  f'{controller["controller_reported_ms"]["median"]:.2f} ms; the bare engine '
                  f'{controller["bare_engine_ms"]["median"]:.2f} ms',
                  f'- {load["rate_hz"]:.0f} commands/s for {load["duration_s"]:.0f} s: '
                  f'{load["answered"]} answered, {load["dropped"]} dropped, {load["rejected"]} '
                  f'rejected of {load["sent"]}; RSS {load["rss_mb_start"]:.0f} -> '
                  f'{load["rss_mb_end"]:.0f} MB (max {load["rss_mb_max"]:.0f}); controller '
                  f'latency p95 {load["controller_latency_ms_p95"]:.1f} ms', '']
    image = results['branchynet']
    chosen = image['chosen_on_dev']
    lines += ['## 7. Image BranchyNet', '',
              f'Full network: accuracy {image["full"]["accuracy"]:.4f}, '
              f'{image["full"]["mean_latency_ms"]:.3f} ms mean, {image["model"]["full_macs"]:.0f}'
              ' MACs.', '',
              '| threshold | accuracy | mean exit | mean ms | speed-up | MACs saved |',
              '|---|---|---|---|---|---|']
    for entry in image['sweep']:
        lines.append(f'| {entry["threshold"]} | {entry["accuracy"]:.4f} | '
                     f'{entry["mean_exit_index"]:.2f} | {entry["mean_latency_ms"]:.3f} | '
                     f'{entry["speedup_mean"]:.2f}x | {entry["macs_saved_fraction"] * 100:.1f}% |')
    lines += ['', f'Threshold chosen on the {chosen["dev_images"]} dev digits (fewest MACs at '
              f'the full network\'s dev accuracy {chosen["dev_full_accuracy"]:.4f}): '
              f'{chosen["threshold"]}; on the test digits {chosen["test"]["accuracy"]:.4f}, '
              f'{chosen["test"]["speedup_mean"]:.2f}x faster, '
              f'{chosen["test"]["macs_saved_fraction"] * 100:.1f}% of MACs saved.']
    if results.get('fleet'):
        import bench_fleet
        fleet = bench_fleet.markdown(results['fleet'])
        lines += ['', fleet.replace('## Fleet', '## 8. Fleet')]
    if results.get('partition'):
        import bench_partition
        partition = bench_partition.markdown(results['partition'])
        lines += ['', partition.replace('## A partition', '## 9. A partition')]
    if results.get('burst'):
        import bench_burst
        burst = bench_burst.markdown(results['burst'])
        lines += ['', burst.replace('## A burst', '## 10. A burst')]
    if results.get('static_tier'):
        static = results['static_tier']['report'].split('\n', 1)[1]     # its own title off
        lines += ['', '## 11. A static-embedding tier beside TF-IDF (measured, not in the pool)',
                  static.replace('\n## ', '\n### ')]
    if results.get('stop_check'):
        import bench_stop_check
        stop_check = bench_stop_check.markdown(results['stop_check'])
        lines += ['', stop_check.replace('## The stop check', '## 12. The stop check')]
    lines += ['', '## Plots', ''] + [f'![{name}]({name})' for name in _plots(results, out)]
    (out / 'RESULTS.md').write_text('\n'.join(lines) + '\n')
