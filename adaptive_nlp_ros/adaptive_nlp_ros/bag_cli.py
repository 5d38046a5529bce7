"""
``adaptive-nlp bag record|play|eval|info``: rosbags without a ROS install.

Wiring and printing only: reading and evaluating live in ``core.bag_reader`` and
``core.bag_evaluation`` (no ROS), recording and replaying in ``nodes.bag_recorder`` and
``nodes.bag_player``. Failures a user can meet raise ``core.bag_reader.BagError``, which the
``adaptive-nlp`` entry point prints as one line with exit status 2.
"""

import json
import pathlib
from typing import Dict

from adaptive_nlp_ros.cli_support import (artifacts_dir, check_strategies, CommandError,
                                          count_at_least_one, non_negative_number, output_file,
                                          positive_number, progress_display, step_reporter)

DEFAULT_RECORD_TOPICS = ('text_command', 'image_command', 'battery_state', 'inference_result',
                         'chosen_configuration', '/diagnostics')


def add_bag_parser(subparsers) -> None:
    """Add ``bag`` and its actions to the ``adaptive-nlp`` subcommands."""
    bag = subparsers.add_parser(
        'bag', help='record, replay and evaluate rosbags (no ROS install needed)',
        description='Record the live topics to a rosbag2 bag, replay a bag into the live '
                    'graph, or evaluate strategies offline on the commands of a bag. Bags are '
                    'interchangeable with `ros2 bag` (sqlite3 and mcap, metadata versions 4-9).')
    actions = bag.add_subparsers(dest='bag_action', metavar='ACTION')
    actions.required = True

    record = actions.add_parser('record', help='record live topics to a bag folder')
    record.add_argument('out', metavar='OUT', help='bag folder to create (must not exist)')
    record.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    record.add_argument('--topics', nargs='+', action='extend', metavar='TOPIC',
                        help='topics to record (default: ' + ' '.join(DEFAULT_RECORD_TOPICS)
                        + ')')
    record.add_argument('--namespace', metavar='NS', default='',
                        help="a robot's namespace (e.g. /robot1): relative topic names, the "
                        'default ones included, are recorded in it')
    record.add_argument('--duration', type=positive_number, metavar='S',
                        help='stop after S seconds (default: at Ctrl-C)')
    record.add_argument('--scenario', metavar='SCENARIO.yaml',
                        help='store the expected labels of this command_player scenario in the '
                        'bag, so `bag eval` scores the recorded commands')
    record.set_defaults(handler=cmd_bag_record)

    play = actions.add_parser('play', help='publish a bag into the live graph')
    play.add_argument('bag', metavar='BAG', help='bag folder or .mcap / .db3 file')
    play.add_argument('--rate', type=positive_number, default=1.0,
                      help='speed factor of the recorded timing (default 1.0)')
    play.add_argument('--loop', action='store_true', help='play again from the start, until '
                      'Ctrl-C')
    play.add_argument('--topics', nargs='+', action='extend', metavar='TOPIC',
                      help='recorded topics to play (default: every input topic: not '
                      'inference_result, chosen_configuration, /diagnostics, /rosout, '
                      '/parameter_events, /clock)')
    play.add_argument('--start', type=non_negative_number, default=0.0, metavar='S',
                      help='start S seconds into the bag (the battery state at that moment is '
                      'published first)')
    play.add_argument('--remap', nargs='+', action='extend', default=[], metavar='OLD:=NEW',
                      help='publish recorded topic OLD on NEW, e.g. /chatter:=text_command')
    play.add_argument('--clock', action='store_true',
                      help='publish the recorded time on /clock and keep recorded header '
                      'stamps (for nodes with use_sim_time); without it header stamps move '
                      'to the current time')
    play.add_argument('--wait-timeout', type=non_negative_number, default=30.0, metavar='S',
                      help='wait at most S seconds for subscribers of the command topics '
                      '(default 30; 0: do not wait)')
    play.set_defaults(handler=cmd_bag_play)

    evaluate = actions.add_parser('eval', help="score strategies offline on a bag's commands")
    evaluate.add_argument('bag', metavar='BAG', help='bag folder or .mcap / .db3 file')
    evaluate.add_argument('--strategy', action='append',
                          help='strategy name (repeatable; default: all and the baselines)')
    evaluate.add_argument('--labels', metavar='LABELS.jsonl',
                          help='expected labels, {"text", "label"} lines matched by text '
                          '(default: those the bag carries)')
    evaluate.add_argument('--remap', nargs='+', action='extend', default=[],
                          metavar='OLD:=NEW', help='read recorded topic OLD as NEW, e.g. '
                          '/chatter:=text_command')
    evaluate.add_argument('--namespace', metavar='NS',
                          help='read the command, battery and result topics of the robot in '
                          'NS only (e.g. /robot1), where a bag holds several')
    evaluate.add_argument('--artifacts', help='artifacts folder (default: '
                          '$ADAPTIVE_NLP_ARTIFACTS, else the per-user cache)')
    evaluate.add_argument('--battery-timeout-s', type=non_negative_number, default=5.0,
                          help='a battery reading older than this is stale (default 5, as '
                          'the controller)')
    evaluate.add_argument('--budget-mj', type=non_negative_number,
                          help='explicit per-command budget instead of the battery model')
    evaluate.add_argument('--threads', type=count_at_least_one, default=1,
                          help='torch threads (default 1)')
    evaluate.add_argument('--json', required=True, metavar='OUT', help='output JSON file')
    evaluate.set_defaults(handler=cmd_bag_eval)

    info = actions.add_parser('info', help='topics, types and counts of a bag')
    info.add_argument('bag', metavar='BAG', help='bag folder or .mcap / .db3 file')
    info.set_defaults(handler=cmd_bag_info)


def _print_counts(title: str, counts: Dict[str, int]) -> None:
    print(title)
    width = max([len(name) for name in counts] + [5])
    for name, count in counts.items():
        print(f'  {name:<{width}}  {count:>7}')


# -- info ----------------------------------------------------------------------------------

def cmd_bag_info(args) -> int:
    """Print what a bag holds, reading every message to check the counts."""
    from adaptive_nlp_ros.core.bags.bag_reader import open_bag

    with open_bag(args.bag) as reader:
        info = reader.info
        for _ in reader.messages():
            pass
        version = info.version if info.version is not None else 'none (no metadata.yaml)'
        print(f'bag:      {info.path}')
        print(f'storage:  {info.storage}   metadata version: {version}'
              + (f'   ros_distro: {info.ros_distro}' if info.ros_distro else ''))
        if info.start_ns is not None and info.duration_ns is not None:
            print(f'duration: {info.duration_ns * 1e-9:.3f} s')
        print(f'{"topic":<28} {"type":<44} {"metadata":>8} {"storage":>8} {"read":>6}')
        for topic in info.topics.values():
            print(f'{topic.name:<28} {topic.msgtype:<44} {_count(topic.metadata_count):>8} '
                  f'{_count(topic.storage_count):>8} {topic.read_count:>6}')
        if reader.warnings:
            print(f'{len(reader.warnings)} warning(s): see above')
    return 0


def _count(value) -> str:
    return '-' if value is None else str(value)


# -- eval ----------------------------------------------------------------------------------

def cmd_bag_eval(args) -> int:
    """Run strategies over the commands of a bag, each at its recorded battery level."""
    from adaptive_nlp_ros.core.bags.bag_evaluation import (evaluate_contents, load_image_engine,
                                                           parse_remaps, read_contents)
    from adaptive_nlp_ros.core.bags.bag_reader import BagError, open_bag
    from adaptive_nlp_ros.core.bags.bag_types import MessageTypeError
    from adaptive_nlp_ros.core.training.dataset import load_dataset
    from adaptive_nlp_ros.core.inference.engine import load_text_engine

    json_path = output_file(args.json, '--json')
    remaps = parse_remaps(args.remap)
    labels = actions = None
    if args.labels:
        dataset = load_dataset(pathlib.Path(args.labels))
        labels = dict(zip(dataset.texts, dataset.labels))
        conflicting = sorted({text for text, label in zip(dataset.texts, dataset.labels)
                              if labels[text] != label})
        if conflicting:
            raise CommandError(f'{args.labels}: {len(conflicting)} text(s) with two labels, '
                               f'e.g. {conflicting[0]!r}: one label per text')
        actions = {text: parsed for text, parsed in zip(dataset.texts, dataset.actions)
                   if parsed is not None}
    with open_bag(args.bag) as reader:
        try:
            contents = read_contents(reader, remaps, args.battery_timeout_s,
                                     namespace=args.namespace)
        except MessageTypeError as error:
            raise BagError(str(error)) from None
        if not contents.commands:
            counts = ', '.join(f'{name}: {reader.info.topics[name].read_count}'
                               for name, role in contents.roles.items()
                               if role in ('text_command', 'image_command'))
            raise BagError(f'{reader.path}: no usable command in the bag ({counts} messages)')
        bag_report = {
            'path': str(reader.info.path), 'storage': reader.info.storage,
            'metadata_version': reader.info.version, 'ros_distro': reader.info.ros_distro,
            'remaps': remaps, 'namespace': args.namespace,
            'topics': {t.name: {'type': t.msgtype, 'metadata_count': t.metadata_count,
                                'storage_count': t.storage_count, 'read_count': t.read_count,
                                'role': contents.roles.get(t.name)}
                       for t in reader.info.topics.values()},
            'skipped_topics': contents.skipped_topics,
            'warnings': list(reader.warnings),
        }
    artifacts = artifacts_dir(args.artifacts)
    engine = load_text_engine(artifacts, threads=args.threads)
    check_strategies(engine, args.strategy)
    image_engine = (load_image_engine(artifacts, engine.budget_model)
                    if any(c.kind == 'image' for c in contents.commands) else None)
    with progress_display() as progress:
        result = evaluate_contents(engine, image_engine, contents, args.strategy, labels,
                                   args.budget_mj, step_reporter(progress),
                                   args.battery_timeout_s, actions)
    result['commands']['label_source'] = (f'labels file {args.labels}' if args.labels
                                          else result['commands']['label_source'])
    result['bag'] = bag_report
    json_path.write_text(json.dumps(result, indent=2) + '\n')
    _print_eval_table(result)
    print(f'written {json_path}')
    return 0


def _print_eval_table(result) -> None:
    commands = result['commands']
    battery = result['battery_trajectory']
    span = ('-' if battery['first'] is None
            else f'{battery["first"]:.3f} -> {battery["last"]:.3f}')
    print(f'n={result["n"]} ({commands["text"]} text, {commands["image"]} image; '
          f'{commands["labelled"]} labelled from {commands["label_source"]})  battery {span}  '
          f'recorded results {result["recorded"]["results"]}')
    structured = commands.get('with_actions', 0) > 0
    print(f'{"strategy":<28}{"accuracy":>9}'
          + (f'{"seq_exact":>10}{"arg_f1":>8}' if structured else '')
          + f'{"mean_ms":>9}{"energy_mj":>10}{"layers":>7}{"agree_rec":>10}')
    for name, row in result['strategies'].items():
        accuracy = '-' if row['accuracy'] is None else f'{row["accuracy"]:.3f}'
        agreement = ('-' if row['agreement_with_recorded'] is None
                     else f'{row["agreement_with_recorded"]:.3f}')
        structure = ''
        if structured:
            structure = (f'{_metric(row.get("sequence_exact")):>10}'
                         f'{_metric(row.get("argument_f1")):>8}')
        print(f'{name:<28}{accuracy:>9}{structure}{row["mean_latency_ms"]:>9.3f}'
              f'{row["mean_energy_mj"]:>10.2f}{row["mean_layers"]:>7.2f}{agreement:>10}')


def _metric(value) -> str:
    return '-' if value is None else f'{value:.3f}'


# -- record --------------------------------------------------------------------------------

def cmd_bag_record(args) -> int:
    """Record live topics until Ctrl-C or --duration; print messages per topic."""
    from adaptive_nlp_ros.core.bags.bag_reader import BagError
    from adaptive_nlp_ros.nodes.bag_recorder import record_until_stopped

    topics = args.topics or list(DEFAULT_RECORD_TOPICS)
    custom_data = {}
    if args.scenario:
        from adaptive_nlp_ros.core.bags.bag_evaluation import expected_labels_metadata
        from adaptive_nlp_ros.core.evaluation.scenario import load_scenario, ScenarioError

        try:
            scenario = load_scenario(pathlib.Path(args.scenario))
        except ScenarioError as error:
            raise BagError(str(error)) from None
        custom_data = expected_labels_metadata(scenario.commands)
    summary = record_until_stopped(pathlib.Path(args.out), topics, args.storage, args.duration,
                                   announce=lambda text: print(text, flush=True),
                                   custom_data=custom_data, namespace=args.namespace)
    _print_counts(f'recorded {summary.total} messages in {summary.seconds:.1f} s to '
                  f'{summary.path} ({summary.storage}):', summary.counts)
    return 0


# -- play ----------------------------------------------------------------------------------

def cmd_bag_play(args) -> int:
    """Publish a bag into the live graph with its recorded timing."""
    from adaptive_nlp_ros.core.bags.bag_evaluation import parse_remaps
    from adaptive_nlp_ros.nodes.bag_player import play_bag, PlaybackOptions

    options = PlaybackOptions(rate=args.rate, loop=args.loop, topics=args.topics,
                              start_s=args.start, remaps=parse_remaps(args.remap),
                              clock=args.clock, wait_timeout_s=args.wait_timeout)
    summary = play_bag(pathlib.Path(args.bag), options,
                       announce=lambda text: print(text, flush=True))
    _print_counts(f'published {summary.total} messages in {summary.seconds:.1f} s'
                  + (f' ({summary.loops} loops)' if summary.loops > 1 else '')
                  + (' (interrupted)' if summary.interrupted else '') + ':', summary.counts)
    return 0
