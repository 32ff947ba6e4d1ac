"""``cpu_and_cuda()``: run a device test on the CPU everywhere and on CUDA where there is a GPU (torchvision's pattern).

Everything but the CUDA kernels then runs in CI: the CUDA case is marked ``gpu`` and skipped, with its reason,
on machines without CUDA.
"""

from __future__ import annotations

import pytest


def cpu_and_cuda() -> tuple:
    """Parameters for ``@pytest.mark.parametrize("device", cpu_and_cuda())``."""
    import torch

    no_cuda = pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
    )
    return ("cpu", pytest.param("cuda", marks=[pytest.mark.gpu, no_cuda]))
