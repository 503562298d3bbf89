"""Classifier registry: ``build_model(name, num_classes, **overrides)``."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from edgevision.errors import ConfigError
from edgevision.recognition.models.esda import ESDAClassifier, ESDAConfig
from edgevision.recognition.models.pointnet import PointNetConfig, PointNetPP
from edgevision.recognition.models.random_features import RandomFeatures, RandomFeaturesConfig
from edgevision.recognition.models.spikepoint import SpikePoint, SpikePointConfig

_CLASSES: dict[str, tuple[type, type]] = {
    "esda": (ESDAClassifier, ESDAConfig),
    "spikepoint": (SpikePoint, SpikePointConfig),
    "pointnet": (PointNetPP, PointNetConfig),
    "random-features": (RandomFeatures, RandomFeaturesConfig),
}
MODEL_NAMES = tuple(_CLASSES)


def model_config(name: str, overrides: dict[str, Any] | None = None):
    """The config dataclass of model ``name`` with ``overrides`` applied (lists become tuples)."""
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    cfg_cls = _CLASSES[name][1]
    known = {f.name for f in dataclasses.fields(cfg_cls)}
    overrides = dict(overrides or {})
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConfigError(f"model {name}: unknown setting(s) {bad}; allowed: {sorted(known)}")
    return cfg_cls(**{k: tuple(v) if isinstance(v, list) and k != "layers" else v for k, v in overrides.items()})


def build_model(name: str, num_classes: int, overrides: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate model ``name`` for ``num_classes`` classes."""
    cfg = model_config(name, overrides)
    return _CLASSES[name][0](num_classes, cfg)
