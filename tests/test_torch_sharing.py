"""``CVKIT_TORCH_SHARING``: how DataLoader workers hand tensors over, for machines that refuse file descriptors."""

from __future__ import annotations

import pytest
import torch.multiprocessing

from cvkit.cli.process import torch_sharing_from_env
from cvkit.errors import CvkitError


def test_the_variable_sets_torchs_strategy_and_a_bad_name_is_refused(monkeypatch):
    before = torch.multiprocessing.get_sharing_strategy()
    try:
        monkeypatch.setenv("CVKIT_TORCH_SHARING", "file_system")
        torch_sharing_from_env()
        assert torch.multiprocessing.get_sharing_strategy() == "file_system"
        monkeypatch.setenv("CVKIT_TORCH_SHARING", "shared_memory")
        with pytest.raises(CvkitError, match="choose file_descriptor or file_system"):
            torch_sharing_from_env()
    finally:
        torch.multiprocessing.set_sharing_strategy(before)


def test_unset_leaves_torchs_default(monkeypatch):
    monkeypatch.delenv("CVKIT_TORCH_SHARING", raising=False)
    before = torch.multiprocessing.get_sharing_strategy()
    torch_sharing_from_env()
    assert torch.multiprocessing.get_sharing_strategy() == before
