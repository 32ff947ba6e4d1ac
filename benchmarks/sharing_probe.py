"""Can DataLoader workers hand tensors to this process with torch's sharing ``STRATEGY``? Exit 0 when they can.

python benchmarks/sharing_probe.py file_descriptor|file_system
"""

import sys

import torch
import torch.multiprocessing
import torch.utils.data


class Batches(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 256

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.full((3, 64, 64), float(index))


if __name__ == "__main__":
    torch.multiprocessing.set_sharing_strategy(sys.argv[1])
    loader = torch.utils.data.DataLoader(Batches(), batch_size=16, num_workers=4)
    total = sum(float(batch.sum()) for batch in loader)
    print(sys.argv[1], "works:", total == sum(i * 3 * 64 * 64 for i in range(256)))
