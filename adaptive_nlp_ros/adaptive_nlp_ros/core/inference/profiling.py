"""
``adaptive-nlp profile``: measure what every component costs on this machine.

Text components are timed at two input lengths (8 and 32 tokens) so costs can be modelled
per token; image components at the network's fixed input size. Energy comes from the power
model (an estimate) unless RAPL counters are readable.
"""

import logging
from typing import Callable, Dict, Optional

import numpy as np
import torch

from .cost_profile import (ComponentCost, constant_cost, CostProfile, linear_cost, measure,
                           profile_info)
from .first_action import read_structured_exit
from .input_complexity import complexity_features
from .parse import TokenView
from .text_models import TextModels
from .variant_pool import REFERENCE_MODE
from .word_tagger import word_spans
from ..battery.power_model import PowerModel, RaplReader

LOG = logging.getLogger(__name__)

SHORT_TOKENS, LONG_TOKENS = 8, 32
_WORDS = ('please robot go to the kitchen and bring me the red cup from the table then wait '
          'near the door until i call you again okay thanks a lot for helping me today').split()


def _text_of_tokens(models: TextModels, tokens: int) -> str:
    """Return a plausible command of exactly ``tokens`` word pieces ([CLS]/[SEP] included)."""
    words = []
    for word in _WORDS * 4:
        candidate = ' '.join(words + [word])
        if models.tokenizer.count_tokens(candidate) > tokens:
            break
        words.append(word)
    return ' '.join(words)


def profile_text(models: TextModels, repeats: int, warmup: int, power: PowerModel,
                 rapl: Optional[RaplReader] = None,
                 progress: Optional[Callable[[str], None]] = None) -> Dict[str, ComponentCost]:
    """Costs of tokenization, the stop check, embeddings, heads and every layer x mode."""
    texts = {n: _text_of_tokens(models, n) for n in (SHORT_TOKENS, LONG_TOKENS)}
    batches = {n: models.tokenizer.encode([text]) for n, text in texts.items()}
    hidden = {n: models.encoder.embed(batch) for n, batch in batches.items()}
    components: Dict[str, ComponentCost] = {}

    def timed(name: str, work_for_length: Callable[[int], Callable[[], object]]) -> None:
        if progress is not None:
            progress(name)
        with torch.inference_mode():
            short = measure(work_for_length(SHORT_TOKENS), repeats, warmup, power, rapl)
            long = measure(work_for_length(LONG_TOKENS), repeats, warmup, power, rapl)
        components[name] = linear_cost(short, long, SHORT_TOKENS, LONG_TOKENS)

    timed('tokenize', lambda n: lambda: models.tokenizer.encoding(texts[n]))
    if models.tfidf is not None:
        def stop_check(n):
            encoding = models.tokenizer.encoding(texts[n])
            return lambda: complexity_features(texts[n], encoding.tokens[1:-1],
                                               models.tfidf.probabilities(texts[n]))
        timed('stop_check', stop_check)
    else:
        components['stop_check'] = ComponentCost(0, 0, 0, 0, 0, 0, 'estimate')
    if models.word_tagger is not None:
        def tag_words(n):
            encoding = models.tokenizer.encoding(texts[n])
            view = TokenView.of_encoding(texts[n], encoding)
            spans = word_spans(view)
            return lambda: models.word_tagger.probabilities(texts[n], spans)
        timed('word_tagger', tag_words)
    timed('embed', lambda n: lambda: models.encoder.embed(batches[n]))
    timed('head', lambda n: _exit_read(models, texts[n], batches[n], hidden[n]))
    for mode in models.modes():
        for layer in range(1, models.num_layers + 1):
            timed(f'layer{layer}/{mode}', lambda n, layer=layer, mode=mode: lambda:
                  models.encoder.run_layer(layer, hidden[n], batches[n], mode))
    return components


def _exit_read(models: TextModels, text: str, batch, embedded: torch.Tensor
               ) -> Callable[[], object]:
    """
    Return the work of reading one exit, as the engine reads it at every exit it judges.

    The sentence head; with token heads, also the tags and their decoding into actions
    (``first_action.read_structured_exit``), which cost several times the sentence head
    (about 0.1 against 0.03 ms for 8 tokens here), so a profile of the sentence head alone
    priced early exit's exits at a fraction of what they spend. Read after the last layer,
    so the decoder meets the tags of a real parse.
    """
    heads, last = models.heads, models.num_layers
    if not heads.structured:
        return lambda: heads.probabilities(last, embedded, batch.token_mask)
    final = embedded
    for layer in range(1, last + 1):
        final = models.encoder.run_layer(layer, final, batch, REFERENCE_MODE)
    view = TokenView.of_encoding(text, models.tokenizer.encoding(text))
    pieces = batch.input_ids.shape[1]

    def read() -> object:
        sentence = heads.probabilities(last, final, batch.token_mask)[0]
        segment, roles, intents = (part[0][1:pieces - 1].numpy()
                                   for part in heads.token_probabilities(last, final))
        return read_structured_exit(view, sentence.numpy(), segment, roles, intents,
                                    heads.scheme, models.labels, models.safety_index)
    return read


def profile_image(classifier, repeats: int, warmup: int, power: PowerModel,
                  rapl: Optional[RaplReader] = None) -> Dict[str, ComponentCost]:
    """Costs of preprocessing, every BranchyNet stage and every exit head."""
    from .image_branchynet import preprocess_mono8

    image = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    components = {'image/preprocess': constant_cost(measure(
        lambda: preprocess_mono8(image, classifier.input_size_px), repeats, warmup, power,
        rapl))}
    with torch.inference_mode():
        h = preprocess_mono8(image, classifier.input_size_px)
        for stage in range(1, classifier.num_exits + 1):
            components[f'image/stage{stage}'] = constant_cost(measure(
                lambda h=h, stage=stage: classifier.run_stage(stage, h), repeats, warmup,
                power, rapl))
            h = classifier.run_stage(stage, h)
            components[f'image/exit{stage}'] = constant_cost(measure(
                lambda h=h, stage=stage: classifier.exit_probabilities(stage, h), repeats,
                warmup, power, rapl))
    return components


def profile_machine(models: TextModels, image_classifier=None, repeats: int = 200,
                    warmup: int = 20, power: PowerModel = PowerModel(), threads: int = 1,
                    progress: Optional[Callable[[str], None]] = None) -> CostProfile:
    """Profile everything the strategies choose between, with ``threads`` torch threads."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rapl = RaplReader()
        rapl = rapl if rapl.available else None
        components = profile_text(models, repeats, warmup, power, rapl, progress)
        if image_classifier is not None:
            components.update(profile_image(image_classifier, repeats, warmup, power, rapl))
    finally:
        torch.set_num_threads(previous_threads)
    return CostProfile(components, profile_info(power, repeats, threads))
