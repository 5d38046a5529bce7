"""Inputs packed end to end run the torch layers as each input alone, and see only themselves."""

from adaptive_nlp_ros.core.inference.text_backbone import PackedBatch
import torch

TEXTS = ['stop', 'go to the kitchen and bring the red cup from the table to Anna please',
         'follow me', 'turn left 90 degrees']


def _embedded(text_engine, texts):
    tokenizer, encoder = text_engine.models.tokenizer, text_engine.models.encoder
    return [encoder.embed(tokenizer.encode([text])) for text in texts]


def _alone(encoder, hidden, mode):
    for layer in range(1, encoder.num_layers + 1):
        hidden = encoder.run_layer(layer, hidden, PackedBatch.of([hidden.shape[1]]), mode)
    return hidden


def _packed(encoder, rows, mode):
    packing = PackedBatch.of([row.shape[1] for row in rows])
    hidden = packing.pack(rows)
    for layer in range(1, encoder.num_layers + 1):
        hidden = encoder.run_layer(layer, hidden, packing, mode)
    return packing, hidden


def test_packing_lays_inputs_end_to_end_and_unpacks_them_padded():
    packing = PackedBatch.of([3, 1, 2])
    assert packing.spans == ((0, 3), (3, 4), (4, 6))
    expected = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0],
                             [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1]],
                            dtype=torch.bool)
    assert torch.equal(packing.attention_mask[0, 0], expected)
    rows = [torch.full((1, length, 2), float(index)) for index, length in enumerate([3, 1, 2])]
    packed = packing.pack(rows)
    assert torch.equal(packing.row(packed, 2), rows[2])
    padded, mask = packing.unpack(packed)
    assert padded.shape == (3, 3, 2)
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    assert torch.equal(padded[1, 0], rows[1][0, 0]) and not padded[1, 1:].any()


def test_every_packed_input_leaves_the_layers_as_it_would_alone(text_engine):
    encoder = text_engine.models.encoder
    rows = _embedded(text_engine, TEXTS)
    with torch.inference_mode():
        packing, hidden = _packed(encoder, rows, 'fp32')
        for index, row in enumerate(rows):
            assert torch.allclose(packing.row(hidden, index), _alone(encoder, row, 'fp32'),
                                  atol=1e-4)


def test_a_packed_input_never_attends_to_its_neighbours(text_engine):
    """Replacing one input leaves every other one's output as it was."""
    encoder = text_engine.models.encoder
    rows = _embedded(text_engine, TEXTS)
    other = _embedded(text_engine, ['what is the capital of france'])[0]
    with torch.inference_mode():
        packing, hidden = _packed(encoder, rows, 'fp32')
        changed_packing, changed = _packed(encoder, [rows[0], other] + rows[2:], 'fp32')
    for index in (0, 2, 3):
        assert torch.allclose(packing.row(hidden, index), changed_packing.row(changed, index),
                              atol=1e-5)
