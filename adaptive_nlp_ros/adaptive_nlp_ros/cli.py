"""
The ``adaptive-nlp`` command: train, evaluate, pareto, profile, artifacts, demo, corpus.

This is the only module that prints; everything it runs lives in ``core`` (and ``nodes``
for the demo). Long steps show progress bars on a terminal.
"""

import argparse
import json
import logging
import os
import pathlib
import sys
from typing import List, Optional

from adaptive_nlp_ros import __version__
from adaptive_nlp_ros.bag_cli import add_bag_parser
from adaptive_nlp_ros.cli_support import (artifacts_dir, battery_fraction, check_strategies,
                                          command_text, CommandError, count_at_least_one,
                                          non_negative_number, output_file, progress_display,
                                          share_below_one, step_reporter, Terminated,
                                          terminated_as_interrupt)

LOG = logging.getLogger('adaptive_nlp')
PACKAGE_DATA = pathlib.Path(__file__).resolve().parent / 'data'


# -- train -------------------------------------------------------------------------------

def cmd_train(args) -> int:
    """Build every artifact from a labelled JSONL dataset."""
    from adaptive_nlp_ros.core.training.text_training import FineTuneSettings
    from adaptive_nlp_ros.core.training.training import (DEFAULT_SAFETY_LABEL, train,
                                                         TrainSettings)

    from adaptive_nlp_ros.core import artifacts

    named = args.safety_label is not None
    settings = TrainSettings(fine_tune=FineTuneSettings(epochs=args.epochs, seed=args.seed,
                                                        word_dropout=args.word_dropout),
                             safety_label=args.safety_label if named else DEFAULT_SAFETY_LABEL,
                             safety_label_named=named and bool(args.safety_label),
                             images=not args.no_images, threads=args.threads, seed=args.seed)
    out = artifacts_dir(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f'--out {out} is a file: give the artifacts folder to write')
    if args.out is None and (out / artifacts.MANIFEST).is_file():
        raise CommandError(f'{out} already holds trained artifacts (the default --artifacts '
                           f'folder): give --out {out} to replace them, or another --out folder')
    with progress_display() as progress, terminated_as_interrupt():
        report = train(pathlib.Path(args.data), pathlib.Path(args.dev) if args.dev else None,
                       out, settings, step_reporter(progress))
    _print_training_report(report, out, settings.safety_label)
    return 0


def _print_training_report(report, out: pathlib.Path, asked_safety_label: str) -> None:
    print(f'artifacts written to {out} in {report["seconds"]:.0f} s '
          f'({report["train_size"]} train / {report["dev_size"]} dev, '
          f'{len(report["labels"])} labels)')
    print('exit  dev_acc  ECE before -> after  temperature')
    for row in report['exits']:
        print(f'{row["layer"]:>4}  {row["dev_accuracy"]:.3f}   {row["ece_before"]:.3f} -> '
              f'{row["ece_after"]:.3f}        {row["temperature"]:.2f}')
    print('pool variant           dev_acc  agreement with fp32')
    for variant, row in report['pool'].items():
        print(f'{variant:<22} {row["dev_accuracy"]:.3f}    {row["dev_agreement"]:.3f}')
    for warning in report.get('data_warnings', []):
        print(f'data: {warning}')
    if report.get('safety_label'):
        print(f'safety label {report["safety_label"]!r}: TF-IDF flags it from p >= '
              f'{report["safety_threshold"]:.3f}')
    elif asked_safety_label:
        print(f'no safety label: {asked_safety_label!r} is not one of the labels, so no command '
              'jumps the queue or takes the safety path; name the label that must never be '
              'missed with --safety-label LABEL (or "" to say there is none)')


# -- artifacts ---------------------------------------------------------------------------

def cmd_artifacts(args) -> int:
    """Check the artifacts folder; with --ensure, build it (default: shipped corpus) if broken."""
    from adaptive_nlp_ros.core import artifacts

    directory = artifacts_dir(args.artifacts)
    try:
        manifest = artifacts.read_manifest(directory)
        artifacts.verify_files(directory, manifest, list(manifest['files']))
        print(f'artifacts OK: {directory} ({len(manifest["files"])} files, labels '
              f'{", ".join(manifest.get("labels", []))})')
        return 0
    except artifacts.ArtifactError as error:
        if not args.ensure:
            raise CommandError(str(error)) from None
        source = args.data or 'the shipped corpus'
        print(f'building artifacts into {directory} from {source} ({error.problem})')
    if not args.data:
        args.data = str(PACKAGE_DATA / 'train.jsonl')
        args.dev = str(PACKAGE_DATA / 'dev.jsonl')
    args.out = str(directory)
    return cmd_train(args)


# -- profile -----------------------------------------------------------------------------

def cmd_profile(args) -> int:
    """Measure every component on this machine and save the cost profile."""
    from adaptive_nlp_ros.core import artifacts
    from adaptive_nlp_ros.core.battery.power_model import PowerModel
    from adaptive_nlp_ros.core.inference.profiling import profile_image, profile_machine
    from adaptive_nlp_ros.core.inference.text_models import TextModels

    directory = artifacts_dir(args.artifacts)
    if args.out:
        output_file(args.out, '--out')
    models = TextModels.load(directory, ort_threads=args.threads)
    power = PowerModel(args.watts_per_core)
    with progress_display() as progress:
        task = progress.add_task('profile', total=4 + 6 * models.num_layers)

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=name[:22])
        profile = profile_machine(models, None, args.repeats, args.warmup, power,
                                  args.threads, advance)
    image_dir = directory / artifacts.IMAGE_DIR
    if image_dir.is_dir():
        from adaptive_nlp_ros.core.inference.image_branchynet import BranchyNetClassifier

        profile.components.update(profile_image(BranchyNetClassifier.load(image_dir),
                                                args.repeats, args.warmup, power))
    out = pathlib.Path(args.out) if args.out else directory / artifacts.COST_PROFILE
    profile.save(out)
    if out.resolve().parent == directory.resolve():
        manifest = artifacts.read_manifest(directory)
        artifacts.write_manifest(directory, {k: v for k, v in manifest.items()
                                             if k not in ('files', 'format_version')})
    print(f'cost profile written to {out} ({len(profile.components)} components, '
          f'{args.repeats} repeats, {args.threads} thread(s))')
    source = 'RAPL' if not profile.energy_is_estimate else (
        f'ESTIMATE: CPU time x {power.watts_per_busy_core} W per busy core (no RAPL here)')
    print(f'energy: {source}')
    print('component              latency_ms@16tok  energy_mj@16tok')
    for name, cost in sorted(profile.components.items()):
        print(f'{name:<22} {cost.latency_ms():>10.3f}  {cost.energy_mj():>14.3f}')
    return 0


# -- evaluate ----------------------------------------------------------------------------

def cmd_evaluate(args) -> int:
    """Every strategy (or the given ones) over a labelled dataset at one battery level."""
    from adaptive_nlp_ros.core.training.dataset import check_text_lengths, load_dataset
    from adaptive_nlp_ros.core.inference.engine import load_text_engine
    from adaptive_nlp_ros.core.evaluation.evaluation import evaluate

    json_path = output_file(args.json, '--json')
    predictions = output_file(args.predictions, '--predictions') if args.predictions else None
    engine = load_text_engine(artifacts_dir(args.artifacts), threads=args.threads)
    dataset = load_dataset(pathlib.Path(args.data))
    check_text_lengths(dataset, engine.too_long_reason)
    unknown = sorted(set(dataset.labels) - set(engine.models.labels) - {''})
    if unknown:
        LOG.warning('labels %s are not in the trained label set %s: those commands can only '
                    'count as wrong', unknown, engine.models.labels)
    check_strategies(engine, args.strategy)
    runs = {}
    with progress_display() as progress:
        result = evaluate(engine, dataset, args.strategy, args.battery, args.budget_mj,
                          step_reporter(progress), runs)
    text = json.dumps(result, indent=2) + '\n'
    json_path.write_text(text)
    _print_results_table(result, engine.safety_label)
    _print_confusion(result)
    if 'structure_note' in result:
        LOG.warning('%s', result['structure_note'])
    print(f'written {json_path}')
    if predictions is not None:
        for path in _write_predictions(predictions, dataset, runs):
            print(f'written {path}')
    return 0


def _write_predictions(path: pathlib.Path, dataset, runs) -> List[pathlib.Path]:
    """Write one JSONL of parses per strategy (the given file when there is one strategy)."""
    from adaptive_nlp_ros.core.evaluation.evaluation import prediction_record

    written = []
    for name, run in runs.items():
        target = path if len(runs) == 1 else path.with_name(
            f'{path.stem}.{name.replace(":", "_")}{path.suffix}')
        with target.open('w', encoding='utf-8') as stream:
            for text, outcome in zip(dataset.texts, run.outcomes):
                stream.write(json.dumps(prediction_record(text, outcome),
                                        ensure_ascii=False) + '\n')
        written.append(target)
    return written


def _print_confusion(result) -> None:
    """Print the commands each label lost, and to what, for the first strategy reported."""
    name, row = next(iter(result['strategies'].items()))
    mistakes = [(gold, guess, count) for gold, guesses in row.get('confusion', {}).items()
                for guess, count in guesses.items() if guess != gold]
    if not mistakes:
        return
    print(f'{name}: commands answered with another label (gold -> answered: count)')
    for gold, guess, count in sorted(mistakes, key=lambda item: -item[2])[:20]:
        print(f'  {gold:>14} -> {guess:<14} {count}')


def _print_results_table(result, safety_label: str) -> None:
    """Print one row per strategy; the last column is the model's safety label's recall."""
    print(f'n={result["n"]}  battery={result["battery"]}  budget={result["budget_mj"]:.2f} mJ '
          '(energy: estimate)')
    structured = any('sequence_exact' in row for row in result['strategies'].values())
    recall_column = f'{safety_label}_recall' if safety_label else ''
    width = max(12, len(recall_column) + 1) if recall_column else 0
    print(f'{"strategy":<28}{"accuracy":>9}' + (f'{"seq_exact":>10}{"arg_f1":>8}'
                                                if structured else '')
          + f'{"mean_ms":>9}{"p95_ms":>8}{"energy_mj":>10}{"layers":>7}'
          + f'{recall_column:>{width}}')
    for name, row in result['strategies'].items():
        accuracy = '-' if row['accuracy'] is None else f'{row["accuracy"]:.3f}'
        stop = row['per_label_recall'].get(safety_label) if safety_label else None
        recall = ('-' if stop is None else f'{stop:.3f}') if safety_label else ''
        structure = ''
        if structured:
            f1 = row.get('argument_f1')
            structure = (f'{row.get("sequence_exact", 0.0):>10.3f}'
                         f'{"-" if f1 is None else f"{f1:.3f}":>8}')
        print(f'{name:<28}{accuracy:>9}{structure}{row["mean_latency_ms"]:>9.3f}'
              f'{row["p95_latency_ms"]:>8.2f}{row["mean_energy_mj"]:>10.2f}'
              f'{row["mean_layers"]:>7.2f}{recall:>{width}}')


# -- parse -------------------------------------------------------------------------------

def cmd_parse(args) -> int:
    """Print what one command means: its actions and arguments, as JSON."""
    from adaptive_nlp_ros.core.evaluation.evaluation import prediction_record
    from adaptive_nlp_ros.core.inference.engine import load_text_engine
    from adaptive_nlp_ros.core.inference.text_backbone import CommandTooLongError

    text = command_text(args.text)
    engine = load_text_engine(artifacts_dir(args.artifacts), threads=args.threads)
    if args.strategy == 'oracle':
        raise CommandError('oracle needs the true label: it cannot parse a new command')
    check_strategies(engine, [args.strategy], without=('oracle',))
    try:
        outcome = engine.infer(text, engine.strategy(args.strategy),
                               engine.resources(battery_fraction=args.battery))
    except CommandTooLongError as error:
        raise CommandError(str(error)) from None
    record = prediction_record(text, outcome)
    record['reason'] = outcome.reason
    print(json.dumps(record, indent=2, ensure_ascii=False))
    return 0


# -- pareto ------------------------------------------------------------------------------

def cmd_pareto(args) -> int:
    """Accuracy against energy for every strategy at several battery levels, to a PNG."""
    from adaptive_nlp_ros.core.training.dataset import check_text_lengths, load_dataset
    from adaptive_nlp_ros.core.inference.engine import load_text_engine
    from adaptive_nlp_ros.core.evaluation.evaluation import evaluate
    from adaptive_nlp_ros.core.evaluation.pareto_plot import plot_pareto

    out = output_file(args.out, '--out')
    json_path = output_file(args.json, '--json') if args.json else None
    engine = load_text_engine(artifacts_dir(args.artifacts), threads=args.threads)
    dataset = load_dataset(pathlib.Path(args.data))
    check_text_lengths(dataset, engine.too_long_reason)
    check_strategies(engine, args.strategy)
    results = {}
    with progress_display() as progress:
        for battery in args.batteries:
            results[battery] = evaluate(engine, dataset, args.strategy, battery, None,
                                        step_reporter(progress))
    plot_pareto(results, out)
    if json_path is not None:
        json_path.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2)
                             + '\n')
    print(f'written {out}')
    return 0


# -- corpus ------------------------------------------------------------------------------

def cmd_corpus(args) -> int:
    """Regenerate the shipped robot-command corpus (seeded) into a folder."""
    from adaptive_nlp_ros.corpus.generator import count_table, update_doc, write_corpus

    out = pathlib.Path(args.out)
    counts = write_corpus(out, seed=args.seed)
    print(count_table(out), end='')
    if args.doc:
        update_doc(pathlib.Path(args.doc), out)
        print(f'updated {args.doc}')
    print(f'written {counts}')
    return 0


# -- demo --------------------------------------------------------------------------------

def cmd_demo(args) -> int:
    """
    Run the battery, player and controller in one process with a live view.

    The process then ends at once (``nodes/process_exit.py``): tearing down torch and ONNX
    Runtime at interpreter exit would break the 2 s allowed after Ctrl-C or SIGTERM.
    """
    from adaptive_nlp_ros.nodes.demo import run_demo
    from adaptive_nlp_ros.nodes.process_exit import end_process

    end_process(run_demo(args))


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line interface."""
    parser = argparse.ArgumentParser(
        prog='adaptive-nlp', description='Energy-aware adaptive inference for robot commands.')
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('-v', '--verbose', action='store_true', help='log debug messages')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')

    def word_dropout_option(sub):
        sub.add_argument('--word-dropout', type=share_below_one, default=0.0, metavar='P',
                         help='mask this share of word pieces while fine-tuning, 0 <= P < 1 '
                              '(default 0; see README, Models)')

    def artifacts_option(sub):
        sub.add_argument('--artifacts', help='artifacts folder (default: '
                         '$ADAPTIVE_NLP_ARTIFACTS, else the per-user cache)')

    def threads_option(sub, default=1):
        sub.add_argument('--threads', type=count_at_least_one, default=default,
                         help=f'torch / ONNX Runtime threads (default {default})')

    train = commands.add_parser('train', help='build every artifact from a JSONL dataset')
    train.add_argument('--data', required=True, help='training JSONL: {"text", "label"} lines')
    train.add_argument('--dev', help='dev JSONL for calibration (default: 10%% of --data)')
    train.add_argument('--out', help='artifacts folder to write (default as --artifacts)')
    train.add_argument('--epochs', type=count_at_least_one, default=3)
    train.add_argument('--seed', type=int, default=13)
    train.add_argument('--safety-label',
                       help='label that must never be missed (default stop where the labels '
                       'have it; a label named here must be one; "" for none)')
    train.add_argument('--no-images', action='store_true', help='skip the image BranchyNet')
    word_dropout_option(train)
    threads_option(train, 2)
    train.set_defaults(handler=cmd_train)

    ensure = commands.add_parser('artifacts', help='check the artifacts folder')
    artifacts_option(ensure)
    ensure.add_argument('--ensure', action='store_true',
                        help='build when missing or broken (from --data, else the shipped corpus)')
    ensure.add_argument('--data', help='training JSONL for --ensure (default: the shipped corpus)')
    ensure.add_argument('--dev', help='dev JSONL for --ensure (default: with --data, 10%% of it)')
    ensure.add_argument('--epochs', type=count_at_least_one, default=3)
    ensure.add_argument('--seed', type=int, default=13)
    ensure.add_argument('--safety-label', help='as for train')
    ensure.add_argument('--no-images', action='store_true')
    word_dropout_option(ensure)
    threads_option(ensure, 2)
    ensure.set_defaults(handler=cmd_artifacts)

    profile = commands.add_parser('profile', help='measure component costs on this machine')
    artifacts_option(profile)
    profile.add_argument('--out', help='profile file (default: in the artifacts folder)')
    profile.add_argument('--repeats', type=int, default=200)
    profile.add_argument('--warmup', type=int, default=20)
    profile.add_argument('--watts-per-core', type=float, default=4.0,
                         help='power model: watts of one busy core (energy estimate)')
    threads_option(profile)
    profile.set_defaults(handler=cmd_profile)

    evaluate = commands.add_parser('evaluate', help='score strategies on a labelled dataset')
    evaluate.add_argument('--data', required=True)
    artifacts_option(evaluate)
    evaluate.add_argument('--strategy', action='append',
                          help='strategy name (repeatable; default: all and the baselines)')
    evaluate.add_argument('--battery', type=battery_fraction, default=1.0)
    evaluate.add_argument('--budget-mj', type=non_negative_number,
                          help='explicit per-command budget instead of the battery model')
    evaluate.add_argument('--json', required=True, help='output JSON file')
    evaluate.add_argument('--predictions', help="also write each command's parse as JSONL "
                          '(P.<strategy>.jsonl when several strategies run)')
    threads_option(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate)

    parse = commands.add_parser('parse', help='print the actions and arguments of one command')
    parse.add_argument('text', help='the command, e.g. "take the cup and bring it to Anna"')
    artifacts_option(parse)
    parse.add_argument('--strategy', default='full')
    parse.add_argument('--battery', type=battery_fraction, default=1.0)
    threads_option(parse)
    parse.set_defaults(handler=cmd_parse)

    pareto = commands.add_parser('pareto', help='accuracy against energy, to a PNG')
    pareto.add_argument('--data', required=True)
    pareto.add_argument('--out', required=True, help='PNG file')
    pareto.add_argument('--json', help='also write the numbers')
    pareto.add_argument('--batteries', type=battery_fraction, nargs='+',
                        default=[1.0, 0.5, 0.2, 0.05])
    pareto.add_argument('--strategy', action='append')
    artifacts_option(pareto)
    threads_option(pareto)
    pareto.set_defaults(handler=cmd_pareto)

    corpus = commands.add_parser('corpus', help='regenerate the shipped corpus')
    corpus.add_argument('--out', required=True)
    corpus.add_argument('--seed', type=int, default=13)
    corpus.add_argument('--doc', help='refresh the count table of this CORPUS.md')
    corpus.set_defaults(handler=cmd_corpus)

    demo = commands.add_parser('demo', help='battery + player + controller with a live view')
    artifacts_option(demo)
    demo.add_argument('--strategy',
                      help='controller strategy (default: energy_greedy, as the demo graph '
                      'description says)')
    demo.add_argument('--scenario', help='scenario YAML (default: the shipped one)')
    demo.add_argument('--report-dir', default='demo_runs', help='where the report goes')
    demo.add_argument('--record', help='also record the run to this rosbag folder')
    demo.add_argument('--battery-only', action='store_true',
                      help='only the battery node, until Ctrl-C')
    demo.set_defaults(handler=cmd_demo)

    add_bag_parser(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``adaptive-nlp``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
    if not getattr(args, 'handler', None):
        parser.print_help()
        return 0
    from adaptive_nlp_ros.core.artifacts import ArtifactError
    from adaptive_nlp_ros.core.bags.bag_reader import BagError
    from adaptive_nlp_ros.core.training.dataset import DatasetError
    from adaptive_nlp_ros.core.inference.fuzzy_rules import FuzzyRuleError

    try:
        return args.handler(args)
    except (CommandError, ArtifactError, BagError, DatasetError, FuzzyRuleError) as error:
        print(f'adaptive-nlp {args.command}: error: {error}', file=sys.stderr)
        return 2
    except Terminated:
        print(f'adaptive-nlp {args.command}: terminated', file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f'adaptive-nlp {args.command}: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
