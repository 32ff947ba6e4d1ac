#!/usr/bin/env bash
# The CUDA checks, as one script for a lent GPU machine (no network there: wheels travel in .whl/, the corpus in
# .corpus/; see docs/benchmarks.md "GPU"). Runs the CUDA-marked tests and the train/augment suites on the GPU, then
# the GPU benchmarks; logs go to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD/src" PYTHONUNBUFFERED=1 CVKIT_CORPUS="$PWD/.corpus" PYTHONDONTWRITEBYTECODE=1
nvidia-smi -L; df -h /dev/shm; ulimit -n
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name())"
# DataLoader workers pass tensors by file descriptor; some sandboxed machines refuse that (EBADF in DupFd)
if ! timeout 30 python3 benchmarks/sharing_probe.py file_descriptor; then
  timeout 30 python3 benchmarks/sharing_probe.py file_system && export CVKIT_TORCH_SHARING=file_system
fi
echo "CVKIT_TORCH_SHARING=${CVKIT_TORCH_SHARING:-default}"
# the CUDA training NaN of 2026-12-04: which CUDA feature makes the loss non-finite (see the script's docstring)
timeout "${PROBE_S:-200}" python3 benchmarks/gpu_train_probe.py 2>&1 | tee "$OUT/probe.log" | grep -v Warning
timeout "${TEST_S:-240}" python3 -m pytest -v -rfEs --timeout 90 -p no:cacheprovider ${TESTS:-tests/test_augment_gpu.py tests/test_train_devices.py tests/test_augment_texture.py tests/test_augment_cli.py tests/test_train_e2e.py::test_cuda_bf16_channels_last_gpu_decode} 2>&1 | tee "$OUT/pytest.log" | grep -v PASSED
timeout "${BENCH_S:-150}" python3 benchmarks/train_throughput.py --images 512 --steps 20 2>&1 | tee "$OUT/bench_train.log" | tail -30
timeout "${BENCH_S:-150}" python3 benchmarks/augment.py --seconds 2 --repeat 1 2>&1 | tee "$OUT/bench_augment.log" | tail -25
