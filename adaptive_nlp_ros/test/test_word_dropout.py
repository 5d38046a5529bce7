"""Word dropout while fine-tuning: which pieces may be masked (no model needed)."""

from adaptive_nlp_ros.core.training.text_training import masked_pieces
import torch

MASK = 103


def _batch():
    """Two commands, right-padded: [CLS] pieces [SEP] then zeros."""
    input_ids = torch.tensor([[101, 7, 8, 9, 10, 11, 102],
                              [101, 7, 8, 102, 0, 0, 0]])
    return input_ids, input_ids != 0


def test_never_masks_cls_sep_or_padding():
    input_ids, token_mask = _batch()
    masked = masked_pieces(input_ids, token_mask, 1.0, MASK, torch.Generator().manual_seed(1))
    assert masked[0].tolist() == [101, MASK, MASK, MASK, MASK, MASK, 102]
    assert masked[1].tolist() == [101, MASK, MASK, 102, 0, 0, 0]


def test_masks_about_the_share_asked_and_nothing_at_zero():
    input_ids = torch.randint(1000, 2000, (64, 40))
    input_ids[:, 0], input_ids[:, -1] = 101, 102
    token_mask = torch.ones_like(input_ids, dtype=torch.bool)
    generator = torch.Generator().manual_seed(2)
    masked = masked_pieces(input_ids, token_mask, 0.15, MASK, generator)
    share = float((masked == MASK).sum()) / (64 * 38)
    assert 0.12 < share < 0.18
    assert torch.equal(masked_pieces(input_ids, token_mask, 0.0, MASK, generator), input_ids)
