"""
Static-embedding tier distilled from the fine-tuned backbone, measured beside the TF-IDF tier.

Issue 15, part 1 (measurement only): could a tier of static token vectors, taken from this
project's own fine-tuned MiniLM, answer commands as cheaply as the TF-IDF tier but better?
The vocabulary pass runs the fine-tuned backbone (fp32, all layers) once per WordPiece token
on ``[CLS] token [SEP]`` and keeps that token's last-layer vector; a command's embedding is the
weighted mean of its tokens' vectors, and a multinomial logistic regression (fitted on train,
temperature-scaled on dev) maps it to the label (the first action's intent). Nothing is
downloaded and nothing in the artifacts changes: the tier lives only in this run.

Reported: label accuracy on dev, the held-out family (``test.jsonl`` lines of source
``generated``) and the hand-written set; batch-1 latency on one thread; the share each tier
answers at a confidence threshold chosen on dev ("cascade: answers when sure"); and the
tier's probability of ``stop`` as a stop detector. Energy is not measured.

Run from the repository root: ``bin/env-run python bench/bench_static_tier.py``; it writes
``bench/STATIC.md`` and prints the same tables.
"""

import json
import math
import pathlib
import re
import statistics
import time
from typing import Callable, Dict, List, Sequence, Tuple

from adaptive_nlp_ros.core.inference.text_backbone import TokenBatch
from adaptive_nlp_ros.core.inference.text_models import TextModels, set_torch_threads

import numpy as np

from scipy.optimize import minimize_scalar

from sklearn.linear_model import LogisticRegression

from threadpoolctl import threadpool_limits

import torch

BENCH_DIR = pathlib.Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA = ROOT / 'adaptive_nlp_ros' / 'adaptive_nlp_ros' / 'data'
OUTPUT = BENCH_DIR / 'STATIC.md'
COMMAND = 'bin/env-run python bench/bench_static_tier.py'

SPECIAL_TOKEN = re.compile(r'^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$')
VOCAB_BATCH = 512            # tokens per forward pass of the vocabulary pass
SIF_A = 1e-3                 # SIF weight a / (a + p(token))
PCA_DIMS = 128
REGULARIZATIONS = (0.1, 1.0, 10.0)   # inverse L2 strengths tried (chosen on dev)
CASCADE_ACCURACY = 0.99      # dev accuracy among answered commands the cascade threshold needs
LATENCY_PASSES = 3
SAFETY_LABEL = 'stop'
STATIC_TIMED = 'static (tokenize + embed + classify)'

Record = Dict[str, object]
Scorer = Callable[[str], np.ndarray]


# -- data -----------------------------------------------------------------------------------

def read_jsonl(path: pathlib.Path) -> List[Record]:
    """Return the records of a JSON-lines file."""
    with open(path, encoding='utf-8') as stream:
        return [json.loads(line) for line in stream if line.strip()]


def load_sets() -> Dict[str, List[Record]]:
    """Return train, dev and the two test sets (held-out family, hand-written)."""
    return {'train': read_jsonl(DATA / 'train.jsonl'),
            'dev': read_jsonl(DATA / 'dev.jsonl'),
            'held-out family': [record for record in read_jsonl(DATA / 'test.jsonl')
                                if record.get('source') == 'generated'],
            'hand-written': read_jsonl(DATA / 'test_handwritten.jsonl')}


def holds_stop(record: Record) -> bool:
    """Return True when any action of the command is a stop (the label when no actions)."""
    actions = record.get('actions')
    if actions is None:
        return record['label'] == SAFETY_LABEL
    return any(action['intent'] == SAFETY_LABEL for action in actions)


# -- distillation ---------------------------------------------------------------------------

def regular_token_ids(tokenizer_json: pathlib.Path) -> np.ndarray:
    """Return the vocabulary ids that are neither special nor unused tokens."""
    vocabulary = json.loads(tokenizer_json.read_text())['model']['vocab']
    return np.array(sorted(index for token, index in vocabulary.items()
                           if not SPECIAL_TOKEN.match(token)), dtype=np.int64)


def vocabulary_pass(models: TextModels, token_ids: np.ndarray) -> np.ndarray:
    """
    Return a [vocabulary, width] table: each token's last-layer vector on [CLS] token [SEP].

    Rows of tokens not in ``token_ids`` (special and unused) stay zero.
    """
    encoder = models.encoder
    cls_id = models.tokenizer.token_id('[CLS]')
    sep_id = models.tokenizer.token_id('[SEP]')
    vocabulary_size = encoder.embeddings.word.shape[0]
    table = np.zeros((vocabulary_size, encoder.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(token_ids), VOCAB_BATCH):
            chunk = torch.from_numpy(token_ids[start:start + VOCAB_BATCH])
            input_ids = torch.stack([torch.full_like(chunk, cls_id), chunk,
                                     torch.full_like(chunk, sep_id)], dim=1)
            batch = TokenBatch(input_ids, torch.ones_like(input_ids, dtype=torch.bool))
            hidden = encoder.embed(batch)
            for layer in range(1, encoder.num_layers + 1):
                hidden = encoder.run_layer(layer, hidden, batch, 'fp32')
            table[chunk.numpy()] = hidden[:, 1, :].numpy()
    return table


def token_frequencies(models: TextModels, texts: Sequence[str], size: int) -> np.ndarray:
    """Return each vocabulary id's share of the word pieces of ``texts`` (specials left out)."""
    counts = np.zeros(size, dtype=np.float64)
    for text in texts:
        np.add.at(counts, np.asarray(models.tokenizer.encoding(text).ids[1:-1]), 1.0)
    return counts / max(1.0, counts.sum())


def pca(table: np.ndarray, rows: np.ndarray, dims: int) -> np.ndarray:
    """Return ``table`` projected on the top ``dims`` principal axes of its ``rows``."""
    mean = table[rows].mean(axis=0)
    _, _, axes = np.linalg.svd(table[rows] - mean, full_matrices=False)
    projected = np.zeros((table.shape[0], dims), dtype=np.float32)
    projected[rows] = (table[rows] - mean) @ axes[:dims].T
    return projected


# -- the static tier ------------------------------------------------------------------------

class StaticTier:
    """Weighted mean of static token vectors, standardized, then a calibrated linear model."""

    def __init__(self, models: TextModels, table: np.ndarray, token_weights: np.ndarray):
        """Hold the token table and weights; the classifier is fitted by ``fit``."""
        self.tokenizer = models.tokenizer
        self.labels = list(models.labels)
        self.table = table.astype(np.float32)
        self.token_weights = token_weights.astype(np.float32)
        self.weights = np.zeros((len(self.labels), table.shape[1]), dtype=np.float32)
        self.bias = np.zeros(len(self.labels), dtype=np.float32)
        self.temperature = 1.0
        self.regularization = math.nan

    def ids(self, text: str) -> np.ndarray:
        """Return the word-piece ids of a text (CommandTokenizer's tokenization)."""
        return np.asarray(self.tokenizer.encoding(text).ids, dtype=np.int64)

    def embed_ids(self, ids: np.ndarray) -> np.ndarray:
        """Return the L2-normalized weighted mean of the tokens' vectors (zero when none)."""
        weights = self.token_weights[ids]
        total = weights.sum()
        if total <= 0.0:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        vector = weights @ self.table[ids] / total
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return the embeddings of many texts, [texts, width]."""
        return np.stack([self.embed_ids(self.ids(text)) for text in texts])

    def fit(self, texts: Sequence[str], labels: Sequence[str], regularization: float) -> None:
        """Fit the logistic regression on standardized embeddings; fold the scaling in."""
        features = self.embed(texts)
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
        model = LogisticRegression(C=regularization, max_iter=3000, random_state=13)
        self.regularization = regularization
        model.fit((features - mean) / scale, [self.labels.index(label) for label in labels])
        self.weights[model.classes_] = model.coef_ / scale
        self.bias[model.classes_] = model.intercept_ - (model.coef_ / scale) @ mean
        missing = np.setdiff1d(np.arange(len(self.labels)), model.classes_)
        self.bias[missing] = -1e4

    def logits_many(self, texts: Sequence[str]) -> np.ndarray:
        """Return uncalibrated class scores, [texts, labels]."""
        return self.embed(texts) @ self.weights.T + self.bias

    def calibrate(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Fit one temperature minimizing the NLL of ``labels`` on ``texts``."""
        self.temperature = fit_temperature(self.logits_many(texts),
                                           np.array([self.labels.index(label)
                                                     for label in labels]))

    def probabilities_many(self, texts: Sequence[str]) -> np.ndarray:
        """Return calibrated probabilities, [texts, labels]."""
        return softmax(self.logits_many(texts) / self.temperature)

    def probabilities(self, text: str) -> np.ndarray:
        """Return one text's calibrated probabilities: tokenize, embed, classify."""
        scaled = (self.weights @ self.embed_ids(self.ids(text)) + self.bias) / self.temperature
        scaled = np.exp(scaled - scaled.max())
        return scaled / scaled.sum()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """Return the temperature minimizing the mean negative log-likelihood of ``targets``."""
    def nll(log_temperature: float) -> float:
        scaled = logits / math.exp(log_temperature)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[np.arange(len(targets)), targets]))
    return math.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method='bounded').x)


# -- measures -------------------------------------------------------------------------------

def accuracy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Share of rows whose most probable label is the target."""
    return float(np.mean(probabilities.argmax(axis=1) == targets))


def cascade_threshold(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Lowest top-probability threshold at which accuracy among answered >= the target."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    for threshold in np.unique(confidence):
        answered = confidence >= threshold
        if correct[answered].mean() >= CASCADE_ACCURACY:
            return float(threshold)
    return math.inf


def cascade(probabilities: np.ndarray, targets: np.ndarray,
            threshold: float) -> Tuple[float, float]:
    """Return (share answered, accuracy among answered) at a confidence threshold."""
    answered = probabilities.max(axis=1) >= threshold
    if not answered.any():
        return 0.0, math.nan
    correct = probabilities.argmax(axis=1) == targets
    return float(answered.mean()), float(correct[answered].mean())


def stop_detection(scores: np.ndarray, stops: np.ndarray,
                   threshold: float) -> Tuple[float, float]:
    """Return (recall of stop commands, share of non-stop commands flagged)."""
    flagged = scores >= threshold
    recall = float(flagged[stops].mean()) if stops.any() else math.nan
    false_flags = float(flagged[~stops].mean()) if (~stops).any() else math.nan
    return recall, false_flags


def batch1_latency(scorers: Dict[str, Scorer], texts: Sequence[str],
                   passes: int = LATENCY_PASSES) -> Dict[str, Dict[str, float]]:
    """
    Return per-scorer median and mean batch-1 latency (ms) over ``texts``.

    Scorers are interleaved per text so that load from other processes spreads evenly; each
    text's latency is its median over ``passes``.
    """
    for scorer in scorers.values():
        for text in texts[:20]:
            scorer(text)
    samples: Dict[str, List[List[float]]] = {name: [[] for _ in texts] for name in scorers}
    for _ in range(passes):
        for index, text in enumerate(texts):
            for name, scorer in scorers.items():
                start = time.perf_counter()
                scorer(text)
                samples[name][index].append((time.perf_counter() - start) * 1e3)
    result = {}
    for name, rows in samples.items():
        medians = [statistics.median(row) for row in rows]
        result[name] = {'median': statistics.median(medians), 'mean': statistics.fmean(medians)}
    return result


def machine_name() -> str:
    """Return the CPU model name from /proc/cpuinfo."""
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown CPU'


# -- run ------------------------------------------------------------------------------------

def distillation_variants(table: np.ndarray, rows: np.ndarray, frequencies: np.ndarray
                          ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Return the variants tried, name -> (token table, token weights)."""
    regular = np.zeros(table.shape[0], dtype=np.float32)
    regular[rows] = 1.0
    sif = regular * (SIF_A / (SIF_A + frequencies))
    return {'384-d, plain mean': (table, regular),
            '384-d, SIF weights': (table, sif),
            f'PCA {PCA_DIMS}-d, SIF weights': (pca(table, rows, PCA_DIMS), sif)}


def fit_variants(models: TextModels, variants: Dict[str, Tuple[np.ndarray, np.ndarray]],
                 sets: Dict[str, List[Record]]) -> List[Tuple[str, float, StaticTier]]:
    """Fit and calibrate every variant at every regularization; return (name, dev acc, tier)."""
    texts = {name: [str(record['text']) for record in sets[name]] for name in ('train', 'dev')}
    labels = {name: [str(record['label']) for record in sets[name]] for name in ('train', 'dev')}
    targets = np.array([models.labels.index(label) for label in labels['dev']])
    fitted = []
    for name, (table, weights) in variants.items():
        for regularization in REGULARIZATIONS:
            tier = StaticTier(models, table, weights)
            tier.fit(texts['train'], labels['train'], regularization)
            tier.calibrate(texts['dev'], labels['dev'])
            dev = accuracy(tier.probabilities_many(texts['dev']), targets)
            fitted.append((name, dev, tier))
            print(f'variant {name}, C = {regularization:g}: dev accuracy {dev:.4f}, '
                  f'temperature {tier.temperature:.3f}', flush=True)
    return fitted


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def percent(value: float) -> str:
    """Format a share as a percentage with one decimal."""
    return 'n/a' if math.isnan(value) else f'{100 * value:.1f} %'


def main() -> Dict[str, object]:
    """Distil, fit, measure and write ``bench/STATIC.md``; return the headline figures."""
    set_torch_threads(1)
    threadpool_limits(limits=1)         # numpy / scikit-learn BLAS: one thread too
    started = time.perf_counter()
    models = TextModels.load(modes=('fp32',), with_gate=False)
    if models.tfidf is None:
        raise SystemExit('the TF-IDF tier is not in the artifacts; nothing to compare against')
    sets = load_sets()
    rows = regular_token_ids(models.directory / 'text' / 'backbone' / 'tokenizer.json')

    start = time.perf_counter()
    table = vocabulary_pass(models, rows)
    seconds = {'distill': time.perf_counter() - start}
    print(f'vocabulary pass: {len(rows)} tokens in {seconds["distill"]:.1f} s', flush=True)

    start = time.perf_counter()
    frequencies = token_frequencies(models, [str(record['text']) for record in sets['train']],
                                    table.shape[0])
    fitted = fit_variants(models, distillation_variants(table, rows, frequencies), sets)
    kept = max(fitted, key=lambda row: row[1])[2]
    seconds['fit'] = time.perf_counter() - start

    eval_sets = ['dev', 'held-out family', 'hand-written']
    texts = {name: [str(record['text']) for record in sets[name]] for name in eval_sets}
    targets = {name: np.array([models.labels.index(record['label']) for record in sets[name]])
               for name in eval_sets}
    stops = {name: np.array([holds_stop(record) for record in sets[name]])
             for name in eval_sets}
    probabilities = {
        'static': {name: kept.probabilities_many(texts[name]) for name in eval_sets},
        'TF-IDF': {name: np.stack([models.tfidf.probabilities(text) for text in texts[name]])
                   for name in eval_sets}}

    timing_texts = texts['held-out family'] + texts['hand-written']
    latency = batch1_latency({STATIC_TIMED: kept.probabilities,
                              'static, of which tokenization': kept.ids,
                              'TF-IDF': models.tfidf.probabilities}, timing_texts)
    seconds['total'] = time.perf_counter() - started

    report = '\n'.join(
        header(models, len(rows), seconds)
        + variants_section(fitted, kept)
        + accuracy_section(models, probabilities, targets)
        + latency_section(latency, len(timing_texts))
        + cascade_section(probabilities, targets)
        + stop_section(probabilities, targets, stops, models.labels.index(SAFETY_LABEL)))
    OUTPUT.write_text(report)
    print(report)
    return {'report': report, 'distill_s': seconds['distill'],
            'accuracy': {tier: {name: accuracy(probabilities[tier][name], targets[name])
                                for name in eval_sets} for tier in probabilities},
            'median_us': {name: row['median'] * 1e3 for name, row in latency.items()}}


# -- report ---------------------------------------------------------------------------------

def header(models: TextModels, tokens: int, seconds: Dict[str, float]) -> List[str]:
    """Return the report's title, method, machine and timings."""
    return [
        '# Static-embedding tier vs TF-IDF tier (issue 15, part 1: measurement only)',
        '',
        'A static token table distilled from the fine-tuned MiniLM backbone in the artifacts '
        f'(fp32, {models.num_layers} layers): every regular WordPiece token ({tokens}; special '
        'and `[unused*]` tokens left out) run once as `[CLS] token [SEP]`, its last-layer '
        "vector kept. A command's static embedding is the weighted mean of its word pieces' "
        'vectors (CommandTokenizer), L2-normalized; a multinomial logistic regression on '
        'standardized features is fitted on `train.jsonl` and one temperature on `dev.jsonl`. '
        'Compared with the TF-IDF tier already in the artifacts (`tfidf_logreg.npz`, as '
        'trained). Label = first action (`label` field). Sets: dev = `dev.jsonl`; held-out '
        'family = lines of `test.jsonl` with `source` `generated`; hand-written = '
        '`test_handwritten.jsonl`. Nothing is written to the artifacts. '
        'Energy is not measured.',
        '',
        f'Machine: {machine_name()}; 1 torch thread and 1 BLAS thread, on a machine shared with '
        f'other work. Regenerate from the repository root: `{COMMAND}`.',
        '',
        f'Distillation (vocabulary pass): **{seconds["distill"]:.1f} s** for {tokens} tokens '
        f'(batches of {VOCAB_BATCH}). Token counts, fits and calibration of the variants: '
        f'{seconds["fit"]:.1f} s. Whole script: {seconds["total"]:.0f} s.',
        '',
    ]


def variants_section(fitted: List[Tuple[str, float, StaticTier]],
                     kept: StaticTier) -> List[str]:
    """Return the table of variants tried and the one kept."""
    rows = [(name, f'{tier.regularization:g}', percent(dev), f'{tier.temperature:.3f}',
             'yes' if tier is kept else '') for name, dev, tier in fitted]
    return [
        '## Variants tried (kept: best dev accuracy)',
        '',
        markdown_table(['variant', 'C (inverse L2)', 'dev accuracy', 'temperature', 'kept'],
                       rows),
        '',
        f'SIF weight of a token: {SIF_A:g} / ({SIF_A:g} + p(token)), p counted on the word '
        "pieces of the training texts. PCA: numpy SVD over the regular tokens' vectors.",
        '',
    ]


def accuracy_section(models: TextModels, probabilities, targets) -> List[str]:
    """Return the label accuracy of both tiers on each set."""
    rows = [(name, len(targets[name]),
             percent(accuracy(probabilities['static'][name], targets[name])),
             percent(accuracy(probabilities['TF-IDF'][name], targets[name])))
            for name in probabilities['static']]
    full = models.pool.get(f'minilm_l{models.num_layers}_fp32')
    scale = (f"For scale: the full {models.num_layers}-layer backbone's dev accuracy in the "
             f'pool table is {percent(full.dev_accuracy)}.' if full is not None else '')
    return ['## Label accuracy', '', markdown_table(['set', 'commands', 'static', 'TF-IDF'],
                                                    rows), '', scale, '']


def latency_section(latency: Dict[str, Dict[str, float]], timed: int) -> List[str]:
    """Return the batch-1 latency table."""
    rows = [(name, f'{row["median"] * 1e3:.1f}', f'{row["mean"] * 1e3:.1f}')
            for name, row in latency.items()]
    ratio = latency['TF-IDF']['median'] / latency[STATIC_TIMED]['median']
    return [
        '## Latency per command, batch 1, 1 thread',
        '',
        f'Over the {timed} test commands (held-out family + hand-written), tiers interleaved '
        f"per command; a command's figure is its median over {LATENCY_PASSES} passes, then "
        'the median and the mean over commands. TF-IDF = `engine.models.tfidf.probabilities('
        'text)` (its own analyzer, no WordPiece tokenization). Absolute times move with the '
        "other work on this machine's cores; the tiers' ratio, taken in one interleaved run, "
        'is the steadier figure.',
        '',
        markdown_table(['tier', 'median (µs)', 'mean (µs)'], rows),
        '',
        f'TF-IDF / static, median: {ratio:.2f}x.',
        '',
    ]


def cascade_section(probabilities, targets) -> List[str]:
    """Return the cascade table: what each tier answers when sure, and how well."""
    rows = []
    for tier in probabilities:
        threshold = cascade_threshold(probabilities[tier]['dev'], targets['dev'])
        for name in probabilities[tier]:
            share, correct = cascade(probabilities[tier][name], targets[name], threshold)
            rows.append((tier, f'{threshold:.4f}', name, percent(share), percent(correct)))
    return [
        '## Cascade: answers when sure',
        '',
        'Threshold on the top calibrated probability: the lowest at which dev accuracy among '
        f'answered commands is >= {CASCADE_ACCURACY:g}; the rest would go to the backbone.',
        '',
        markdown_table(['tier', 'threshold', 'set', 'answered', 'accuracy of answered'], rows),
        '',
    ]


def stop_section(probabilities, targets, stops, safety: int) -> List[str]:
    """Return the stop-detector table: recall of stops and false flags per tier and set."""
    rows = []
    for tier in probabilities:
        scores = {name: probabilities[tier][name][:, safety] for name in probabilities[tier]}
        threshold = 0.5 * float(scores['dev'][targets['dev'] == safety].min())
        for name in scores:
            recall, flagged = stop_detection(scores[name], stops[name], threshold)
            rows.append((tier, f'{threshold:.2e}', name, int(stops[name].sum()),
                         percent(recall), percent(flagged)))
    return [
        "## Stop detector: the tier's probability of `stop`",
        '',
        'Threshold = half the lowest score among dev commands labelled `stop`. A command '
        'holding `stop` in any action (`actions` field) counts as a stop. TF-IDF here is the '
        "label model's probability only; the engine's safety check also takes the separate "
        'any-action detector (`stop_detector.npz`), not measured here.',
        '',
        markdown_table(['tier', 'threshold', 'set', 'stops', 'stop recall',
                        'non-stops flagged'], rows),
        '',
    ]


if __name__ == '__main__':
    main()
