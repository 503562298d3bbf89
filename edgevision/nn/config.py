"""Eye-tracker configuration: YAML file -> typed dataclasses, every problem a :class:`ConfigError`.

A config (``models/*.yaml``) has four sections::

    name: eye_small
    input:    {downsample: 8, slice_us: 10000, time_bins: 2, input_clip: 15}
    backbone: {layers: [...]}            # see edgevision.nn.backbone for the layer forms
    gru:      {hidden: 96}
    train:    {epochs: 30, batch_size: 16, seq_len: 40, stride: 20, lr: 0.002, ...}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgevision.errors import ConfigError


@dataclass
class InputConfig:
    """How events become network input: sensor pixels / ``downsample`` grid, ``slice_us`` windows,
    ``time_bins`` x 2 polarity channels, counts clipped at ``input_clip``."""

    downsample: int = 8
    slice_us: int = 10_000
    time_bins: int = 2
    input_clip: float = 15.0

    @property
    def channels(self) -> int:
        return 2 * self.time_bins

    def grid(self, sensor_size: tuple[int, int]) -> tuple[int, int]:
        """(H, W) of the input grid for a ``(width, height)`` sensor."""
        w, h = sensor_size
        return (-(-int(h) // self.downsample), -(-int(w) // self.downsample))


@dataclass
class BackboneConfig:
    """The sparse CNN's layer list (dicts, expanded by :class:`edgevision.nn.backbone.SparseBackbone`)."""

    layers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GRUConfig:
    hidden: int = 96


@dataclass
class TrainConfig:
    """Optimisation settings; ``seq_len``/``stride`` in slices, ``closed_weight`` weights the BCE term,
    ``jitter_px`` is the largest random shift in input-grid pixels (80x60 space), applied with a random flip."""

    epochs: int = 30
    batch_size: int = 16
    seq_len: int = 40
    stride: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    closed_weight: float = 0.05
    grad_clip: float = 1.0
    val_fraction: float = 0.15
    jitter_px: int = 2
    seed: int = 0


@dataclass
class EyeConfig:
    name: str
    input: InputConfig
    backbone: BackboneConfig
    gru: GRUConfig
    train: TrainConfig
    sensor_size: tuple[int, int] = (640, 480)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sensor_size"] = list(self.sensor_size)
        return d


def _section(cls, data: Any, where: str):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")
    out = cls()
    for key, value in data.items():
        default = getattr(out, key)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            setattr(out, key, value)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        if isinstance(default, int) and not float(value).is_integer():
            raise ConfigError(f"{where}.{key}: expected an integer, got {value!r}")
        setattr(out, key, type(default)(value))
    return out


def config_from_dict(data: Any, source: str = "config") -> EyeConfig:
    """Build and check an :class:`EyeConfig` from a parsed YAML mapping."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping with keys name, input, backbone, gru, train")
    allowed = {"name", "input", "backbone", "gru", "train", "sensor_size"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {unknown}; allowed: {sorted(allowed)}")
    cfg = EyeConfig(
        name=str(data.get("name", Path(source).stem)),
        input=_section(InputConfig, data.get("input"), f"{source}: input"),
        backbone=_section(BackboneConfig, data.get("backbone"), f"{source}: backbone"),
        gru=_section(GRUConfig, data.get("gru"), f"{source}: gru"),
        train=_section(TrainConfig, data.get("train"), f"{source}: train"),
        sensor_size=tuple(int(v) for v in data.get("sensor_size", (640, 480))),
    )
    checks = [
        (cfg.input.downsample >= 1, "input.downsample must be >= 1"),
        (cfg.input.slice_us > 0, "input.slice_us must be > 0"),
        (cfg.input.time_bins >= 1, "input.time_bins must be >= 1"),
        (0 < cfg.input.input_clip <= 255, "input.input_clip must be in (0, 255] (features are cached as uint8)"),
        (cfg.gru.hidden >= 1, "gru.hidden must be >= 1"),
        (cfg.train.seq_len >= 1 and cfg.train.stride >= 1, "train.seq_len and train.stride must be >= 1"),
        (cfg.train.batch_size >= 1 and cfg.train.epochs >= 0, "train.batch_size must be >= 1, train.epochs >= 0"),
        (0.0 <= cfg.train.val_fraction < 1.0, "train.val_fraction must be in [0, 1)"),
        (len(cfg.sensor_size) == 2, "sensor_size must be [width, height]"),
        (isinstance(cfg.backbone.layers, list) and cfg.backbone.layers, "backbone.layers must be a non-empty list"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{source}: {msg}")
    return cfg


def load_config(path: str | Path) -> EyeConfig:
    """Read ``path`` (YAML) into an :class:`EyeConfig`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (the shipped ones are in models/*.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return config_from_dict(data, str(path))
