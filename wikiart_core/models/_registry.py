"""The model registry: name -> class, so that a checkpoint or a spec can name its model.

Every model class is decorated with :func:`register_model` (as timm's
``register_model`` does for its model functions); :func:`build` makes a model from
a registered name and plain keyword arguments. This module imports no model: the
submodules import it, and ``models/__init__.py`` imports the submodules, so the
registry is full once ``wikiart_core.models`` is imported.
"""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

from torch import nn

ModelClass = TypeVar("ModelClass", bound=type[nn.Module])

# Name -> class: each class under its own name, plus any aliases it was registered with
# ("resnet50" for ResNet50Classifier). Checkpoints store the class name and rebuild
# through build(); lookups ignore case ("stylecnn" finds StyleCNN).
MODELS: dict[str, type[nn.Module]] = {}
# Families of models too many to register one by one (every timm architecture): each
# resolver maps a name to (class, constructor arguments it fixes), or None.
RESOLVERS: list[Callable[[str], tuple[type[nn.Module], dict] | None]] = []


def register_model(cls: ModelClass | None = None, *, aliases: Iterable[str] = ()
                   ) -> ModelClass | Callable[[ModelClass], ModelClass]:
    """Class decorator: list ``cls`` in ``MODELS`` under its class name and ``aliases``.

    ``@register_model`` or ``@register_model(aliases=("resnet50",))``; returns the class
    unchanged. Registering a different class under a name already taken raises ValueError."""

    def register(model_cls: ModelClass) -> ModelClass:
        for name in (model_cls.__name__, *aliases):
            known = MODELS.get(name)
            if known is not None and known is not model_cls:
                raise ValueError(f"model name {name!r} is already registered for {known.__module__}.{known.__name__}")
            MODELS[name] = model_cls
        return model_cls

    return register if cls is None else register(cls)


def resolve(name: str) -> tuple[type[nn.Module], dict]:
    """(class, the constructor arguments the name fixes) for a model name: a name in
    ``MODELS`` (case-insensitive: "stylecnn" works) gives its class and {}; otherwise the
    first of ``RESOLVERS`` that knows it (a timm architecture: ``(TimmClassifier,
    {"architecture": name})``). Raises ValueError for a name nobody knows."""
    by_lowercase = {key.lower(): cls for key, cls in MODELS.items()}
    cls = MODELS.get(name) or by_lowercase.get(name.lower())
    if cls is not None:
        return cls, {}
    for resolver in RESOLVERS:
        found = resolver(name)
        if found is not None:
            return found
    raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}, or any timm architecture name "
                     f"(timm.list_models())")


def model_class(name: str) -> type[nn.Module]:
    """The class of model ``name`` (see :func:`resolve`)."""
    return resolve(name)[0]


def build(name: str, **init_args) -> nn.Module:
    """A new model ``name`` (see :func:`resolve`) built with ``init_args``;
    ``build(type(m).__name__, **m.init_args)`` rebuilds ``m``'s architecture."""
    cls, fixed = resolve(name)
    return cls(**{**fixed, **init_args})
