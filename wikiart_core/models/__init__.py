"""The networks, one module per kind, each readable top to bottom.

- ``classifiers``: ``SeedCNN`` (the course model) and ``StyleCNN``, trained from scratch;
- ``autoencoders``: the Part 2 ``ConvAutoencoder``, ``ssim`` and ``reconstruction_loss``;
- ``generators``: the Part 3 ``StyleConditionedAutoencoder`` (conditional instance norm);
- ``backbones``: ImageNet-pretrained torchvision classifiers ("resnet50", ...), loaded
  from local files, for the "beyond from scratch" comparison only;
- ``timm_backbones``: any timm architecture ("tf_efficientnet_lite0", "vit_base_patch14_dinov2")
  the same way, with the weights' own preprocessing; ``convert``: other EfficientNet
  state dicts renamed into timm's names;
- ``_registry``: ``MODELS``, ``register_model``, ``resolve``, ``model_class`` and ``build``.

Conventions every model here follows (the training loop, checkpoints and widgets
rely on them):

- The constructor takes plain keyword arguments and stores them in ``self.init_args``,
  so a checkpoint can rebuild the model with ``build(type(model).__name__, **init_args)``.
- Every class is decorated with ``@register_model``, which lists it in ``MODELS``
  (name -> class); a new module of models is imported below so that it registers.
- Classifiers take float images in [0, 1], shape (B, 3, S, S), and standardise them
  themselves with the buffers ``input_mean`` / ``input_std`` (set from the training
  data by ``set_input_stats``). The statistics are buffers, so they travel inside the
  checkpoint: a model never meets differently normalised inputs at test time.
- Classifiers return (B, n_classes) scores. ``SeedCNN`` returns log-probabilities
  (as the course model did); cross-entropy on log-probabilities equals the NLL loss,
  so one loss serves both.

No pretrained weights are loaded anywhere outside ``backbones`` and ``timm_backbones`` (the assignment forbids
them for the classification parts).
"""
from __future__ import annotations

# Importing the submodules registers their models, in this order, in MODELS.
from . import classifiers, autoencoders, generators, backbones, timm_backbones
from ._registry import MODELS, RESOLVERS, build, model_class, register_model, resolve
from .autoencoders import ConvAutoencoder, reconstruction_loss, ssim
from .backbones import BACKBONES, PretrainedClassifier
from .classifiers import (DEFAULT_INPUT_MEAN, DEFAULT_INPUT_STD, BasicBlock, SeedCNN, StyleCNN, auto_stem_stride,
                          seed_cnn_feature_side)
from .generators import ConditionalInstanceNorm, StyleConditionedAutoencoder
from .timm_backbones import TimmClassifier

RESOLVERS.append(timm_backbones.resolve)

__all__ = [
    "MODELS", "register_model", "model_class", "build", "resolve",
    "DEFAULT_INPUT_MEAN", "DEFAULT_INPUT_STD", "seed_cnn_feature_side", "SeedCNN", "BasicBlock",
    "auto_stem_stride", "StyleCNN",
    "ConvAutoencoder", "ssim", "reconstruction_loss",
    "ConditionalInstanceNorm", "StyleConditionedAutoencoder",
    "BACKBONES", "PretrainedClassifier", "TimmClassifier",
    "autoencoders", "timm_backbones", "backbones", "classifiers", "generators",
]
