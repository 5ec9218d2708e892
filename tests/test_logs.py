"""deepcoder_lib.logs: transformers' log messages are collected inside the block and printed again after it."""
import logging

from deepcoder_lib import logs


def test_collects_inside_and_restores_after(capsys):
    logger = logging.getLogger("transformers.generation.utils")
    before = logging.getLogger("transformers").handlers[:]
    with logs.transformers_log() as messages:
        logger.warning("The attention mask is not set %s", "(test)")
    assert messages == ["The attention mask is not set (test)"]
    assert "attention mask" not in capsys.readouterr().err
    assert logging.getLogger("transformers").handlers == before


def test_restores_handlers_after_an_error():
    before = logging.getLogger("transformers").handlers[:]
    try:
        with logs.transformers_log():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert logging.getLogger("transformers").handlers == before


def test_real_generate_batch_without_mask_is_collected(model, tokenizer):
    """A batch of bare input_ids with no pad token: transformers logs the mask warning on every call."""
    import torch
    batch = torch.tensor([[1, 2, 3], [4, 5, 6]])
    with logs.transformers_log() as messages, torch.inference_mode():
        model.generate(input_ids=batch, do_sample=False, max_new_tokens=1, pad_token_id=None)
    assert any(m.startswith("The attention mask and the pad token id were not set") for m in messages), messages
