"""
Everything the text path needs, loaded once from an artifacts folder.

Loading is tolerant where it can be: a missing or corrupt ONNX Runtime session removes that
execution mode (and the pool variants using it) and is reported in ``problems``; a missing
backbone or exit heads is fatal, with the file named and the command that rebuilds it.
"""

from dataclasses import dataclass, field
import json
import logging
import pathlib
from typing import Dict, List, Optional, Sequence

import torch

from .exit_heads import ExitHeads
from .onnx_layers import OrtEncoderLayer
from .strategies.safety_path import SafetyRelease
from .text_backbone import CommandTokenizer, SegmentedEncoder
from .tfidf_classifier import TfidfClassifier
from .variant_pool import default_variants, mode_precision, ORT_MODES, TORCH_MODES, Variant
from .word_tagger import WordTagger
from .. import artifacts

LOG = logging.getLogger(__name__)


@dataclass
class PoolEntry:
    """A variant with what training measured about it on dev."""

    variant: Variant
    dev_accuracy: float
    dev_agreement: float             # share of dev labels equal to the reference variant's
    dev_safety_recall: Optional[float] = None   # recall of the safety label (stop) on dev


@dataclass
class TextModels:
    """Tokenizer, segmented encoder, exit heads, TF-IDF model and the pool table."""

    directory: pathlib.Path
    labels: List[str]
    tokenizer: CommandTokenizer
    encoder: SegmentedEncoder
    heads: ExitHeads
    tfidf: Optional[TfidfClassifier]
    pool: Dict[str, PoolEntry]
    mode_fidelity: Dict[str, float]
    gate: Dict[str, object]
    safety_label: Optional[str]
    safety_threshold: float
    problems: List[str] = field(default_factory=list)
    # TF-IDF: does the command hold a safety action anywhere (not only first)? None: not trained.
    stop_detector: Optional[TfidfClassifier] = None
    # The TF-IDF variant's actions and arguments. None: label-only corpus, or not loadable.
    word_tagger: Optional[WordTagger] = None
    # When a flagged command may leave the safety path (None: never; models trained before).
    safety_release: Optional[SafetyRelease] = None

    @property
    def safety_index(self) -> Optional[int]:
        """Return the safety label's index in ``labels`` (None: no safety label)."""
        return (self.labels.index(self.safety_label) if self.safety_label in self.labels
                else None)

    @property
    def num_layers(self) -> int:
        """Return the number of encoder layers of the backbone."""
        return self.encoder.num_layers

    def modes(self) -> List[str]:
        """Return execution modes every layer can run in."""
        return self.encoder.modes

    @classmethod
    def load(cls, directory: Optional[pathlib.Path] = None,
             modes: Sequence[str] = TORCH_MODES + ORT_MODES,
             ort_threads: int = 1, with_gate: bool = True) -> 'TextModels':
        """
        Load from ``directory`` (default: ``$ADAPTIVE_NLP_ARTIFACTS`` or the user cache).

        Raises ``artifacts.ArtifactError`` when the backbone, heads or pool table are unusable.
        """
        directory = pathlib.Path(directory or artifacts.default_artifacts_dir())
        manifest = artifacts.read_manifest(directory)
        problems: List[str] = []
        artifacts.verify_files(directory, manifest, [artifacts.BACKBONE_DIR,
                                                     artifacts.EXIT_HEADS,
                                                     artifacts.POOL_TABLE])
        backbone = directory / artifacts.BACKBONE_DIR
        try:
            # Straight from the backbone's files: the library's model is not built (nor its
            # modules imported) next to the encoder's own copies of the weights.
            encoder = SegmentedEncoder.from_folder(
                backbone, [mode for mode in modes if mode in TORCH_MODES])
            heads = ExitHeads.load(directory / artifacts.EXIT_HEADS)
            pool_table = json.loads((directory / artifacts.POOL_TABLE).read_text())
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise artifacts.ArtifactError(directory, artifacts.BACKBONE_DIR,
                                          f'cannot be loaded ({error})') from None
        tokenizer = CommandTokenizer(backbone / 'tokenizer.json')
        for mode in [mode for mode in modes if mode in ORT_MODES]:
            try:
                encoder.add_mode(mode, _load_ort_layers(directory, manifest, mode,
                                                        encoder.num_layers, ort_threads))
            except artifacts.ArtifactError as error:
                problems.append(f'execution mode {mode} unavailable: {error}')
                LOG.error('execution mode %s unavailable: %s', mode, error)
        tfidf = _load_tfidf(directory, manifest, artifacts.TFIDF_MODEL,
                            'variant tfidf_logreg', problems)
        stop_detector = (_load_tfidf(directory, manifest, artifacts.STOP_DETECTOR,
                                     'stop detector', problems)
                         if artifacts.STOP_DETECTOR in manifest.get('files', {}) else None)
        word_tagger = (_load_word_tagger(directory, manifest, heads.labels, problems)
                       if artifacts.WORD_TAGGER in manifest.get('files', {}) else None)
        available_modes = set(encoder.modes)
        pool = {}
        for variant in default_variants(encoder.num_layers):
            measured = pool_table['variants'].get(variant.variant_id)
            usable = (variant.kind == 'tfidf' and tfidf is not None) or (
                variant.kind == 'minilm' and variant.mode in available_modes)
            if measured is not None and usable:
                pool[variant.variant_id] = PoolEntry(variant, measured['dev_accuracy'],
                                                     measured['dev_agreement'],
                                                     measured.get('dev_safety_recall'))
        mode_fidelity = {mode: fidelity for mode, fidelity
                         in pool_table['mode_fidelity'].items() if mode in available_modes}
        gate: Dict[str, object] = {}
        try:
            if not with_gate:
                raise artifacts.ArtifactError(directory, artifacts.MOE_GATE, 'not loaded')
            artifacts.verify_files(directory, manifest, [artifacts.MOE_GATE])
            gate = json.loads((directory / artifacts.MOE_GATE).read_text())
        except (artifacts.ArtifactError, OSError, ValueError) as error:
            if with_gate:
                problems.append(f'strategy moe_gate unavailable: {error}')
                LOG.error('strategy moe_gate unavailable: %s', error)
        return cls(directory, heads.labels, tokenizer, encoder, heads, tfidf, pool,
                   mode_fidelity, gate, pool_table.get('safety_label'),
                   pool_table.get('safety_threshold', 1.0), problems, stop_detector,
                   word_tagger, SafetyRelease.from_table(pool_table.get('safety_release')))


def _load_tfidf(directory: pathlib.Path, manifest: dict, relative: str, what: str,
                problems: List[str]) -> Optional[TfidfClassifier]:
    """Load one TF-IDF model; a missing or damaged file is a reported problem, not a crash."""
    try:
        artifacts.verify_files(directory, manifest, [relative])
        return TfidfClassifier.load(directory / relative)
    except (artifacts.ArtifactError, OSError, ValueError, KeyError) as error:
        problems.append(f'{what} unavailable: {error}')
        LOG.error('%s unavailable: %s', what, error)
        return None


def _load_word_tagger(directory: pathlib.Path, manifest: dict, labels: List[str],
                      problems: List[str]) -> Optional[WordTagger]:
    """Load the word tagger; without it the TF-IDF variant answers one bare action."""
    try:
        artifacts.verify_files(directory, manifest, [artifacts.WORD_TAGGER])
        tagger = WordTagger.load(directory / artifacts.WORD_TAGGER)
        if list(tagger.scheme.intents) != list(labels):
            raise ValueError(f'its intents {list(tagger.scheme.intents)} are not the labels')
        return tagger
    except (artifacts.ArtifactError, OSError, ValueError, KeyError) as error:
        problems.append(f'word tagger unavailable (TF-IDF answers carry no arguments): {error}')
        LOG.error('word tagger unavailable: %s', error)
        return None


def _load_ort_layers(directory: pathlib.Path, manifest: dict, mode: str, num_layers: int,
                     threads: int) -> List[OrtEncoderLayer]:
    precision = mode_precision(mode)
    paths = [artifacts.ONNX_LAYER.format(layer=layer, precision=precision)
             for layer in range(1, num_layers + 1)]
    artifacts.verify_files(directory, manifest, paths)
    layers = []
    for relative in paths:
        try:
            layers.append(OrtEncoderLayer(directory / relative, precision, threads))
        except Exception as error:  # noqa: B902 - onnxruntime raises its own exception types
            raise artifacts.ArtifactError(directory, relative,
                                          f'ONNX Runtime cannot load it ({error})') from None
    return layers


def set_torch_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads for torch (1 suits batch-1 latency on a shared CPU)."""
    torch.set_num_threads(max(1, int(threads)))
