"""The classifiers trained from scratch: the course's ``SeedCNN`` and the residual ``StyleCNN``.

Both take float images in [0, 1], shape (B, 3, S, S), and standardise them themselves
(``_StandardisedInput``: per-channel buffers saved with the weights). No pretrained
weights are loaded here (the assignment forbids them for the classification parts).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._registry import register_model

DEFAULT_INPUT_MEAN = 0.5
DEFAULT_INPUT_STD = 0.25


# --------------------------------------------------------------------------- shared pieces


class _StandardisedInput(nn.Module):
    """Mixin: per-channel input standardisation held in buffers (saved with the weights)."""

    def _register_input_stats(self) -> None:
        self.register_buffer("input_mean", torch.full((1, 3, 1, 1), DEFAULT_INPUT_MEAN))
        self.register_buffer("input_std", torch.full((1, 3, 1, 1), DEFAULT_INPUT_STD))

    @torch.no_grad()
    def set_input_stats(self, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor) -> None:
        """Set the per-channel mean and standard deviation (3 values each, in [0, 1]
        image units), typically ``data.channel_stats(train_set)``."""
        mean = torch.as_tensor(mean, dtype=self.input_mean.dtype).reshape(1, 3, 1, 1)
        std = torch.as_tensor(std, dtype=self.input_std.dtype).reshape(1, 3, 1, 1)
        if (std <= 0).any():
            raise ValueError(f"input std must be positive, got {std.flatten().tolist()}")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std


# --------------------------------------------------------------------------- the in-class model


def seed_cnn_feature_side(image_size: int, variant: str = "original") -> int:
    """Side of the square feature map that ``SeedCNN`` flattens, in pixels.

    Conv2d(kernel 4, padding 2) gives S + 1; MaxPool2d(4, stride 4, padding 2) then gives
    floor((S + 1) / 4) + 1, so 416 px -> 105 (the course model's 105 x 105 features).
    The ``avgpool_sigmoid`` variant pools adaptively to 50 x 50 whatever the size."""
    if variant == "avgpool_sigmoid":
        return 50
    return (image_size + 1) // 4 + 1


@register_model
class SeedCNN(_StandardisedInput):
    """The classifier written in class, kept as it was so that its results can be
    compared honestly (a single 4x4 convolution to ONE channel, then a two-layer MLP).

    variant="original":        Conv2d(3->1, 4x4, pad 2) -> MaxPool2d(4, pad 2) -> flatten
                               -> BatchNorm1d -> Linear(->300) -> Dropout(0.01) -> ReLU
                               -> Linear(300->n_classes) -> LogSoftmax
    variant="avgpool_sigmoid": the original report's Bonus A change: AdaptiveAvgPool2d(50)
                               instead of the max-pool and Sigmoid instead of ReLU.

    Input (B, 3, image_size, image_size) floats in [0, 1]; output (B, n_classes)
    log-probabilities.
    """

    VARIANTS = ("original", "avgpool_sigmoid")

    def __init__(self, n_classes: int = 27, image_size: int = 416, variant: str = "original"):
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"variant must be one of {self.VARIANTS}, got {variant!r}")
        self.init_args = dict(n_classes=n_classes, image_size=image_size, variant=variant)
        self._register_input_stats()
        side = seed_cnn_feature_side(image_size, variant)
        self.n_features = side * side
        self.conv = nn.Conv2d(3, 1, kernel_size=4, padding=2)
        self.pool = nn.MaxPool2d(4, padding=2) if variant == "original" else nn.AdaptiveAvgPool2d(50)
        self.norm = nn.BatchNorm1d(self.n_features)
        self.hidden = nn.Linear(self.n_features, 300)
        self.dropout = nn.Dropout(0.01)
        self.activation = nn.ReLU() if variant == "original" else nn.Sigmoid()
        self.head = nn.Linear(300, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(self.standardise(x)))
        x = self.norm(x.flatten(1))
        x = self.activation(self.dropout(self.hidden(x)))
        return torch.log_softmax(self.head(x), dim=1)


# --------------------------------------------------------------------------- a CNN that learns


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (He et al. 2016). The
    shortcut lets gradients skip the block, which is what makes a deeper net train
    from scratch; when the block changes resolution or width, a strided 1x1 conv
    (plus batch norm) reshapes the shortcut to match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # Zero-initialised last BN: each block starts as the identity, which steadies the
        # first epochs of a from-scratch run (Goyal et al. 2017).
        nn.init.zeros_(self.bn2.weight)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def auto_stem_stride(image_size: int, min_feature_side: int = 32, max_stride: int = 4) -> int:
    """The StyleCNN stem stride for ``image_size`` px inputs: the largest of 1, 2, 4 (up to
    ``max_stride``) that leaves feature maps of at least ``min_feature_side`` px after the
    stem (1 at 32 px, 2 at 64 px, 4 from 128 px). A fixed stride of 4 suits 224 px
    paintings but leaves 8 x 8 maps of a 32 px image, where digits or small textures are
    lost before the first block (benchmarks/ablate_classifier.py)."""
    stride = 1
    while stride * 2 <= max_stride and image_size // (stride * 2) >= min_feature_side:
        stride *= 2
    return stride


@register_model
class StyleCNN(_StandardisedInput):
    """A small from-scratch residual CNN for art styles, sized for ~13k images.

    stem:   3x3 conv with stride ``stem_stride`` (2 halves the resolution at once: style
            lives in texture and colour statistics, not in pixel-exact detail, and it
            quarters the cost; 4, a 4x4 "patchify" conv, is for small CPUs)
    stages: ``depth`` stages of ``blocks_per_stage`` BasicBlocks; stage i has
            ``width * 2**i`` channels and every stage after the first halves the
            resolution (strided first block)
    head:   global average pooling -> dropout -> linear

    Global average pooling makes the network independent of the image size (the
    same weights run at 64 px or 416 px) and gives ``embed``: the pooled (B, D)
    features with D = width * 2**(depth - 1), used later as a style descriptor.

    Input (B, 3, S, S) floats in [0, 1]; output (B, n_classes) logits.
    """

    def __init__(self, n_classes: int = 27, width: int = 32, depth: int = 4, dropout: float = 0.2,
                 blocks_per_stage: int = 1, stem_stride: int = 2):
        super().__init__()
        if depth < 1 or width < 1 or blocks_per_stage < 1 or stem_stride < 1:
            raise ValueError("width, depth, blocks_per_stage and stem_stride must be positive")
        self.init_args = dict(n_classes=n_classes, width=width, depth=depth, dropout=dropout,
                              blocks_per_stage=blocks_per_stage, stem_stride=stem_stride)
        self._register_input_stats()
        # Kernel max(3, stride) so that no input pixel is skipped when the stride grows.
        stem_kernel = max(3, stem_stride)
        self.stem = nn.Sequential(nn.Conv2d(3, width, stem_kernel, stride=stem_stride,
                                            padding=(stem_kernel - 1) // 2, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        blocks, channels = [], width
        for stage in range(depth):
            out_channels = width * 2 ** stage
            for block in range(blocks_per_stage):
                stride = 2 if (stage > 0 and block == 0) else 1
                blocks.append(BasicBlock(channels, out_channels, stride))
                channels = out_channels
        self.stages = nn.Sequential(*blocks)
        self.embedding_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate features, (B, 3, S, S) in [0, 1] -> (B, embedding_dim)."""
        x = self.stages(self.stem(self.standardise(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))

