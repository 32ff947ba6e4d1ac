"""BagNet-9/17/33 (Brendel & Bethge 2019): a ResNet-50 whose 3x3 convolutions become 1x1 once the receptive field
reaches 9, 17 or 33 pixels, so each output location sees one small image patch and the class evidence is a bag of
local features (the texture-versus-shape probe of the lectures).

The layout follows the authors' reference implementation (``bagnets/pytorchnet.py`` in
wielandbrendel/bag-of-local-features-models): unpadded 3x3 convolutions, strides 2, 2, 2, 1, the residual cropped
to the shrunk output, module names identical so the authors' pretrained ``.pth.tar`` files load with ``--weights``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cvkit.train.config import IMAGENET_CLASSES

#: bottleneck blocks per stage (ResNet-50's)
STAGE_BLOCKS = (3, 4, 6, 3)
STAGE_STRIDES = (2, 2, 2, 1)
#: per stage: how many leading blocks keep a 3x3 convolution, by receptive field (the authors' ``kernel3``)
KERNEL3_BY_FIELD = {9: (1, 1, 0, 0), 17: (1, 1, 1, 0), 33: (1, 1, 1, 1)}
EXPANSION = 4


class Bottleneck(nn.Module):
    """ResNet bottleneck with an unpadded middle convolution of ``kernel_size`` (1 or 3)."""

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, kernel_size: int = 1
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=kernel_size, stride=stride, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = self.downsample(x) if self.downsample is not None else x
        # an unpadded 3x3 shrinks the map: keep the residual's top-left part, inside each output's patch
        residual = residual[:, :, : out.shape[-2], : out.shape[-1]]
        return self.relu(out + residual)


class BagNet(nn.Module):
    """BagNet with a receptive field of ``field`` pixels (9, 17 or 33); logits are averaged over locations."""

    def __init__(self, field: int = 33, num_classes: int = IMAGENET_CLASSES):
        super().__init__()
        kernel3 = KERNEL3_BY_FIELD[field]
        self.field = field
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=1, bias=False)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=0.001)
        self.relu = nn.ReLU(inplace=True)
        stages = [
            self._make_stage(64 * 2**i, blocks, stride, threes)
            for i, (blocks, stride, threes) in enumerate(zip(STAGE_BLOCKS, STAGE_STRIDES, kernel3, strict=True))
        ]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512 * EXPANSION, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _make_stage(self, planes: int, blocks: int, stride: int, threes: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * EXPANSION:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * EXPANSION, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * EXPANSION),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample, kernel_size=3 if threes > 0 else 1)]
        self.inplanes = planes * EXPANSION
        layers += [Bottleneck(self.inplanes, planes, kernel_size=3 if threes > i else 1) for i in range(1, blocks)]
        return nn.Sequential(*layers)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before pooling: location (i, j) sees only a ``field`` x ``field`` input patch."""
        x = self.relu(self.bn1(self.conv2(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.local_features(x).mean(dim=(2, 3)))

