"""
``adaptive-nlp train``: build every artifact the strategies need from one labelled dataset.

Any JSONL of ``{"text", "label"}`` with any label set works. Steps: fine-tune the backbone
jointly with its exit heads, calibrate every exit on dev, export each layer to ONNX (fp32
and int8), fit the TF-IDF variant, measure every pool variant and execution mode on dev,
profile this machine quickly, fit the ``moe_gate`` gate, train the image BranchyNet, and
write a manifest with a hash of every file. Seeded: the same data gives the same models.
"""

from dataclasses import asdict, dataclass
import json
import logging
import pathlib
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .calibration import expected_calibration_error, fit_temperature
from .dataset import (check_label_coverage, check_text_lengths, data_warnings, Dataset,
                      DatasetError, load_dataset)
from .image_training import train_branchynet
from .safety_release import exit_stop_scores, fit_safety_release
from .text_training import (calibrate, calibrate_token_heads, exit_logits_dataset, fine_tune,
                            FineTuneSettings)
from .word_tagger_training import fit_word_tagger
from .. import artifacts
from ..battery.energy_budget import EnergyBudgetModel
from ..battery.power_model import PowerModel
from ..inference.engine import safety_score
from ..inference.exit_heads import ExitHeads
from ..inference.image_branchynet import BranchyNetClassifier
from ..inference.input_complexity import complexity_features
from ..inference.onnx_layers import export_layer, OrtEncoderLayer
from ..inference.parse import roles_by_intent, signatures_by_intent, TagScheme
from ..inference.profiling import profile_image, profile_machine
from ..inference.strategies.moe_gate import fit_gate, gate_experts, gate_features
from ..inference.strategies.safety_path import SafetyRelease
from ..inference.strategy_context import StrategyContext
from ..inference.text_backbone import (CommandTokenizer, load_library_model,
                                       pretrained_backbone_path, SegmentedEncoder)
from ..inference.text_models import TextModels
from ..inference.tfidf_classifier import TfidfClassifier
from ..inference.variant_pool import (default_variants, MODES, ORT_MODES, REFERENCE_MODE,
                                      TFIDF_VARIANT, TORCH_MODES)

LOG = logging.getLogger(__name__)

DEFAULT_SAFETY_LABEL = 'stop'
GATE_CONFIDENCE = 0.8          # an expert counts as "right" for the gate when this sure
QUICK_PROFILE_REPEATS = 25


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``train`` can be told; defaults meet the 3-minute build on 2 cores."""

    fine_tune: FineTuneSettings = FineTuneSettings()
    dev_fraction: float = 0.1      # held out of train when no dev file is given
    safety_label: str = DEFAULT_SAFETY_LABEL
    safety_label_named: bool = False   # named by the user: refuse a label set without it
    images: bool = True
    threads: int = 2
    seed: int = 13


Progress = Callable[[str, int, int], None]     # (step name, done, total)


def _split_dev(train: Dataset, fraction: float, seed: int) -> Tuple[Dataset, Dataset]:
    """Hold out a stratified share of train as dev."""
    rng = np.random.default_rng(seed)
    dev_rows: List[int] = []
    for label in sorted(set(train.labels)):
        rows = [i for i, item in enumerate(train.labels) if item == label]
        rng.shuffle(rows)
        take = max(1, int(round(len(rows) * fraction))) if len(rows) > 2 else 0
        dev_rows.extend(rows[:take])
    keep = sorted(set(range(len(train))) - set(dev_rows))
    return train.rows(keep), train.rows(sorted(dev_rows))


def exit_probabilities(encoder: SegmentedEncoder, heads: ExitHeads,
                       tokenizer: CommandTokenizer, texts: Sequence[str], mode: str,
                       batch_size: int = 64) -> np.ndarray:
    """Calibrated probabilities of every exit with every layer in ``mode``: [layers, n, labels]."""
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer.encode(texts[start:start + batch_size])
            hidden = encoder.embed(batch)
            per_layer = []
            for layer in range(1, encoder.num_layers + 1):
                hidden = encoder.run_layer(layer, hidden, batch, mode)
                per_layer.append(heads.probabilities(layer, hidden, batch.token_mask).numpy())
            outputs.append(np.stack(per_layer))
    return np.concatenate(outputs, axis=1)


def _measure_pool(encoder: SegmentedEncoder, heads: ExitHeads, tokenizer: CommandTokenizer,
                  tfidf: TfidfClassifier, dev: Dataset
                  ) -> Tuple[Dict[str, np.ndarray], Dict[str, float]]:
    """Measure dev probabilities of every pool variant, and each mode's agreement with fp32."""
    by_mode = {mode: exit_probabilities(encoder, heads, tokenizer, dev.texts, mode)
               for mode in encoder.modes}
    reference = by_mode[REFERENCE_MODE][-1].argmax(-1)
    fidelity = {mode: float((probabilities[-1].argmax(-1) == reference).mean())
                for mode, probabilities in by_mode.items()}
    variant_probabilities: Dict[str, np.ndarray] = {
        TFIDF_VARIANT: np.stack([tfidf.probabilities(text) for text in dev.texts])}
    for variant in default_variants(encoder.num_layers):
        if variant.kind == 'minilm' and variant.mode in by_mode:
            variant_probabilities[variant.variant_id] = by_mode[variant.mode][variant.layers - 1]
    return variant_probabilities, fidelity


def fit_moe_gate(context: StrategyContext, tfidf: TfidfClassifier, tokenizer: CommandTokenizer,
                 texts: Sequence[str], variant_probabilities: Dict[str, np.ndarray],
                 targets: np.ndarray, seed: int) -> Dict[str, object]:
    """Fit ``moe_gate``'s gate on dev: cheap features -> cheapest expert right and sure."""
    experts = [option.variant_id for option in gate_experts(context.pool)]   # cheapest first
    features, gate_targets = [], []
    for row, text in enumerate(texts):
        tfidf_probabilities = tfidf.probabilities(text)
        pieces = tokenizer.encoding(text).tokens[1:-1]
        features.append(gate_features(complexity_features(text, pieces, tfidf_probabilities),
                                      tfidf_probabilities))
        right = [i for i, expert in enumerate(experts)
                 if variant_probabilities[expert][row].argmax() == targets[row]
                 and variant_probabilities[expert][row].max() >= GATE_CONFIDENCE]
        gate_targets.append(right[0] if right else len(experts) - 1)
    return fit_gate(np.asarray(features), gate_targets, experts, seed)


def _recall(probabilities: np.ndarray, targets: np.ndarray, labels: List[str],
            label: Optional[str]) -> Optional[float]:
    """Return the recall of ``label`` on dev (None without such a label or examples)."""
    if not label:
        return None
    index = labels.index(label)
    rows = targets == index
    if not rows.any():
        return None
    return float((probabilities[rows].argmax(-1) == index).mean())


def _mentions(label: str, actions, safety_label: str) -> bool:
    """Return True when a line holds the safety label: first, or in any of its actions."""
    return label == safety_label or any(action.intent == safety_label
                                        for action in actions or ())


def _safety_threshold(tfidf: TfidfClassifier, stop_detector: Optional[TfidfClassifier],
                      dev: Dataset, labels: List[str], safety_label: str) -> float:
    """
    Safety score (``engine.safety_score``) above which a command counts as possibly unsafe.

    Half the lowest score any dev command holding the label got (every dev stop, first or
    later in the command, flagged with margin for unseen phrasing), kept within 0.02..0.3: a
    stop scoring under the 0.02 floor is not flagged (on the shipped dev split, two of the
    commands holding a stop, one of them first).
    """
    index = labels.index(safety_label)
    scores = [safety_score(text, tfidf.probabilities(text)[index], stop_detector)
              for text, label, actions in zip(dev.texts, dev.labels, dev.actions)
              if _mentions(label, actions, safety_label)]
    if not scores:
        return 0.1
    return float(min(0.3, max(0.02, 0.5 * min(scores))))


def _safety_release(models: TextModels, tfidf: TfidfClassifier,
                    stop_detector: Optional[TfidfClassifier], dev: Dataset, threshold: float
                    ) -> Tuple[Optional[SafetyRelease], Optional[Dict]]:
    """
    Fit the safety path's release rule on dev (``safety_release``).

    From which dev commands the receipt's check flags, which hold a stop (in any action), and
    every exit's stop scores in the reference mode.
    """
    label = models.safety_label
    index = models.labels.index(label)
    flagged = [safety_score(text, tfidf.probabilities(text)[index], stop_detector) >= threshold
               for text in dev.texts]
    stops = [_mentions(first, actions, label) for first, actions in zip(dev.labels, dev.actions)]
    return fit_safety_release(exit_stop_scores(models, dev.texts), stops, flagged)


def _fit_stop_detector(train_set: Dataset, safety_label: str,
                       seed: int) -> Optional[TfidfClassifier]:
    """TF-IDF on "does the command hold the safety label anywhere" (None: nothing to learn)."""
    mentions = [int(_mentions(label, actions, safety_label))
                for label, actions in zip(train_set.labels, train_set.actions)]
    if not 0 < sum(mentions) < len(mentions):
        return None
    return TfidfClassifier.fit(train_set.texts, mentions, ['other', safety_label], seed=seed)


def staging_dir(out_dir: pathlib.Path) -> pathlib.Path:
    """Return where training builds the artifacts before they replace ``out_dir`` whole."""
    return out_dir.with_name(out_dir.name + '.partial')


def train(train_path: pathlib.Path, dev_path: Optional[pathlib.Path],
          out_dir: pathlib.Path, settings: TrainSettings = TrainSettings(),
          progress: Optional[Progress] = None) -> Dict[str, object]:
    """
    Build all artifacts into ``out_dir``; returns the training report.

    A failed or interrupted run leaves ``out_dir`` as it was and no staging folder behind.
    """
    try:
        return _train(train_path, dev_path, pathlib.Path(out_dir), settings, progress)
    except BaseException:
        shutil.rmtree(staging_dir(pathlib.Path(out_dir)), ignore_errors=True)
        raise


def _train(train_path: pathlib.Path, dev_path: Optional[pathlib.Path],
           out_dir: pathlib.Path, settings: TrainSettings,
           progress: Optional[Progress]) -> Dict[str, object]:
    """Build all artifacts into ``out_dir`` through a staging folder (see ``train``)."""
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    tokenizer = CommandTokenizer(pretrained_backbone_path() / 'tokenizer.json')
    train_set = load_dataset(train_path)
    check_text_lengths(train_set, tokenizer.too_long_reason)
    if dev_path is not None:
        dev_set = load_dataset(dev_path)
        check_text_lengths(dev_set, tokenizer.too_long_reason)
        warnings = data_warnings(train_set, dev_set)
    else:
        warnings = data_warnings(train_set)
        train_set, dev_set = _split_dev(train_set, settings.dev_fraction, settings.seed)
    for warning in warnings:
        LOG.warning('%s', warning)
    labels = check_label_coverage(train_set, [dev_set])
    index = {label: i for i, label in enumerate(labels)}
    train_ids = [index[label] for label in train_set.labels]
    dev_ids = [index[label] for label in dev_set.labels]
    safety_label = settings.safety_label if settings.safety_label in labels else None
    if settings.safety_label and safety_label is None:
        if settings.safety_label_named:
            raise DatasetError(f'{train_path}: safety label {settings.safety_label!r} is not '
                               f'one of its labels: {", ".join(labels)}')
        LOG.warning('safety label %r is not in the label set: no safety override (name the '
                    'label that must never be missed with --safety-label)',
                    settings.safety_label)

    staging = staging_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    def step(name: str, done: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(name, done, total)

    # 1. Backbone and exit heads.
    pretrained = pretrained_backbone_path()
    library_model = load_library_model(pretrained)
    scheme = (TagScheme(tuple(labels), intent_roles=roles_by_intent(train_set.actions),
                        intent_signatures=signatures_by_intent(train_set.actions))
              if train_set.structured else None)
    heads = fine_tune(library_model, tokenizer, train_set.texts, train_ids, labels,
                      settings.fine_tune,
                      lambda done, total, loss: step('fine-tune', done, total),
                      train_set.actions, scheme)
    step('calibrate')
    dev_logits = exit_logits_dataset(library_model, heads, tokenizer, dev_set.texts)
    exit_report = calibrate(heads, dev_logits, dev_ids)
    token_report = (calibrate_token_heads(library_model, heads, tokenizer, dev_set.texts,
                                          dev_set.actions)
                    if heads.structured and dev_set.structured else [])
    backbone_dir = staging / artifacts.BACKBONE_DIR
    library_model.save_pretrained(str(backbone_dir))
    shutil.copy(pretrained / 'tokenizer.json', backbone_dir / 'tokenizer.json')
    heads.save(staging / artifacts.EXIT_HEADS)

    # 2. ONNX Runtime sessions, one per layer and precision.
    encoder = SegmentedEncoder(library_model, TORCH_MODES)
    for layer, weights in enumerate(encoder.layer_weights, start=1):
        step('export ONNX', layer, encoder.num_layers)
        export_layer(weights,
                     staging / artifacts.ONNX_LAYER.format(layer=layer, precision='fp32'),
                     staging / artifacts.ONNX_LAYER.format(layer=layer, precision='int8'))
    for mode in ORT_MODES:
        precision = MODES[mode][0]
        encoder.add_mode(mode, [OrtEncoderLayer(
            staging / artifacts.ONNX_LAYER.format(layer=layer, precision=precision), precision,
            settings.threads) for layer in range(1, encoder.num_layers + 1)])

    # 3. TF-IDF variant, calibrated like the exits.
    step('TF-IDF')
    tfidf = TfidfClassifier.fit(train_set.texts, train_ids, labels, seed=settings.seed)
    tfidf_logits = torch.tensor(np.stack([tfidf.logits(text) for text in dev_set.texts]))
    tfidf.temperature = fit_temperature(tfidf_logits, torch.tensor(dev_ids))
    tfidf.save(staging / artifacts.TFIDF_MODEL)
    stop_detector = (_fit_stop_detector(train_set, safety_label, settings.seed)
                     if safety_label else None)
    if stop_detector is not None:
        stop_detector.save(staging / artifacts.STOP_DETECTOR)
    tagger_report = None
    if scheme is not None:
        step('word tagger')
        word_tagger, tagger_report = fit_word_tagger(tokenizer, train_set, dev_set, scheme,
                                                     settings.seed)
        word_tagger.save(staging / artifacts.WORD_TAGGER)

    # 4. Every variant and mode on dev.
    step('measure pool on dev')
    variant_probabilities, fidelity = _measure_pool(encoder, heads, tokenizer, tfidf, dev_set)
    targets = np.asarray(dev_ids)
    pool_table = {
        'labels': labels,
        'variants': {variant_id: {
            'dev_accuracy': float((probabilities.argmax(-1) == targets).mean()),
            'dev_agreement': float((probabilities.argmax(-1) == variant_probabilities[
                f'minilm_l{encoder.num_layers}_{REFERENCE_MODE}'].argmax(-1)).mean()),
            'dev_ece': expected_calibration_error(probabilities, targets),
            'dev_safety_recall': _recall(probabilities, targets, labels, safety_label)}
            for variant_id, probabilities in variant_probabilities.items()},
        'mode_fidelity': fidelity,
        'safety_label': safety_label,
        'safety_threshold': (_safety_threshold(tfidf, stop_detector, dev_set, labels,
                                               safety_label) if safety_label else 1.0),
    }
    (staging / artifacts.POOL_TABLE).write_text(json.dumps(pool_table, indent=2) + '\n')
    artifacts.write_manifest(staging, {'labels': labels})

    # 5. A quick profile of this machine (``adaptive-nlp profile`` measures more carefully).
    step('profile')
    models = TextModels.load(staging, ort_threads=1, with_gate=False)
    release_report = None
    if safety_label and heads.structured and safety_label in heads.scheme.intents:
        step('safety release')
        release, release_report = _safety_release(models, tfidf, stop_detector, dev_set,
                                                  pool_table['safety_threshold'])
        if release is not None:
            pool_table['safety_release'] = release.to_table()
            (staging / artifacts.POOL_TABLE).write_text(json.dumps(pool_table, indent=2)
                                                        + '\n')
    profile = profile_machine(models, repeats=QUICK_PROFILE_REPEATS, warmup=5)
    profile.save(staging / artifacts.COST_PROFILE)

    # 6. The moe_gate gate: cheap features -> cheapest expert that is right and confident.
    step('moe gate')
    context = StrategyContext.build(models.pool.values(), models.mode_fidelity,
                                    models.num_layers, labels, profile, EnergyBudgetModel())
    gate = fit_moe_gate(context, tfidf, tokenizer, dev_set.texts, variant_probabilities,
                        targets, settings.seed)
    (staging / artifacts.MOE_GATE).write_text(json.dumps(gate) + '\n')

    # 7. Images.
    image_report = None
    if settings.images:
        step('image BranchyNet')
        image_report = train_branchynet(staging / artifacts.IMAGE_DIR, seed=settings.seed)
        classifier = BranchyNetClassifier.load(staging / artifacts.IMAGE_DIR)
        profile.components.update(profile_image(classifier, QUICK_PROFILE_REPEATS, 5,
                                                PowerModel()))
        profile.save(staging / artifacts.COST_PROFILE)

    report = {
        'train': str(train_path), 'dev': str(dev_path) if dev_path else 'held out of train',
        'train_size': len(train_set), 'dev_size': len(dev_set), 'labels': labels,
        'label_counts': train_set.label_counts(), 'exits': exit_report,
        'token_exits': token_report, 'structured': heads.structured,
        'word_tagger': tagger_report,
        'pool': pool_table['variants'], 'mode_fidelity': fidelity,
        'safety_label': safety_label, 'safety_threshold': pool_table['safety_threshold'],
        'safety_release': {**pool_table.get('safety_release', {}), **(release_report or {})},
        'image': image_report, 'settings': asdict(settings), 'data_warnings': warnings,
        'seconds': time.perf_counter() - started,
    }
    (staging / artifacts.TEXT_REPORT).write_text(json.dumps(report, indent=2, default=str)
                                                 + '\n')
    artifacts.write_manifest(staging, {'labels': labels, 'created': time.strftime(
        '%Y-%m-%dT%H:%M:%S%z'), 'train_data': str(train_path)})
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return report
