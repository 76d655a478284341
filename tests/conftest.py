from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests run on a 2-core machine beside other processes: one intra-op thread keeps
    tiny ops fast and results bit-stable (1 and 2 threads give different bits)."""
    import torch

    torch.set_num_threads(1)
