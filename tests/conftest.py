"""Shared fixtures. Tests run offline (HF_HUB_OFFLINE=1), as learners' classrooms do."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def model_and_tokenizer():
    """The embedded default model, loaded once for the whole session (fp32, CPU)."""
    from deepcoder_lib.models import load
    return load()


@pytest.fixture(scope="session")
def model(model_and_tokenizer):
    return model_and_tokenizer[0]


@pytest.fixture(scope="session")
def tokenizer(model_and_tokenizer):
    return model_and_tokenizer[1]


from server_utils import llama_server, no_logprobs_server  # noqa: E402,F401  (the real llama.cpp server)
