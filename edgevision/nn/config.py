"""Eye-tracker configuration: YAML file -> typed dataclasses, every problem a :class:`ConfigError`.

A config (``models/*.yaml``) has four sections::

    name: eye_small
    input:    {downsample: 8, slice_us: 10000, time_bins: 2, input_clip: 15}
    backbone: {layers: [...]}            # see edgevision.nn.backbone for the layer forms
    gru:      {hidden: 96}
    train:    {epochs: 30, batch_size: 16, seq_len: 40, stride: 20, lr: 0.002, ...}
    augment:  {flip: 0.5, scale: [0.8, 1.25], rotate_deg: 15, ...}   # event-level, see AugmentConfig
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
    ``jitter_px`` is the largest random shift in input-grid pixels (80x60 space), applied with a random flip.
    ``ema``: decay of an exponential moving average of the weights (and BatchNorm statistics), updated after
    every step; validation and the checkpoints use the average. 0 turns it off."""

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
    ema: float = 0.0


@dataclass
class AugmentConfig:
    """Event-level training augmentation (:mod:`edgevision.nn.augment`), drawn per training sequence.

    ``flip`` is a probability; ``scale``, ``time_stretch`` and ``polarity_gain`` are ``[lo, hi]`` factors drawn
    log-uniformly; ``rotate_deg`` and ``translate_px`` (sensor pixels) are symmetric uniform bounds; ``drop`` is a
    ``[lo, hi]`` fraction of events removed; ``noise_hz`` a ``[lo, hi]`` rate of added background events per pixel
    per second; up to ``hot_pixels`` hot pixels fire at ``hot_rate_hz`` ``[lo, hi]``. ``enabled: false`` trains
    on the recorded events unchanged."""

    enabled: bool = True
    flip: float = 0.5
    scale: list[float] = field(default_factory=lambda: [0.8, 1.25])
    rotate_deg: float = 15.0
    translate_px: float = 96.0
    time_stretch: list[float] = field(default_factory=lambda: [0.8, 1.25])
    drop: list[float] = field(default_factory=lambda: [0.0, 0.3])
    polarity_gain: list[float] = field(default_factory=lambda: [0.75, 1.33])
    noise_hz: list[float] = field(default_factory=lambda: [0.0, 0.05])
    hot_pixels: int = 20
    hot_rate_hz: list[float] = field(default_factory=lambda: [20.0, 300.0])

    def check(self, where: str) -> None:
        """Raise :class:`ConfigError` naming the first key whose value is out of range."""
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"{where}.enabled: expected true or false, got {self.enabled!r}")
        for key, lo_min, positive in (("scale", 0.0, True), ("time_stretch", 0.0, True), ("polarity_gain", 0.0, True),
                                      ("drop", 0.0, False), ("noise_hz", 0.0, False), ("hot_rate_hz", 0.0, False)):
            v = getattr(self, key)
            ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in v)
            if not ok or not (v[0] <= v[1]) or (v[0] <= lo_min if positive else v[0] < lo_min):
                raise ConfigError(f"{where}.{key}: expected [lo, hi] with {'0 <' if positive else '0 <='} lo <= hi, got {v!r}")
            setattr(self, key, [float(v[0]), float(v[1])])
        if self.drop[1] >= 1.0:
            raise ConfigError(f"{where}.drop: the fraction must stay below 1, got {self.drop!r}")
        if not 0.0 <= self.flip <= 1.0:
            raise ConfigError(f"{where}.flip: a probability in [0, 1], got {self.flip!r}")
        if self.rotate_deg < 0 or self.translate_px < 0 or self.hot_pixels < 0:
            raise ConfigError(f"{where}: rotate_deg, translate_px and hot_pixels must be >= 0")


@dataclass
class EyeConfig:
    name: str
    input: InputConfig
    backbone: BackboneConfig
    gru: GRUConfig
    train: TrainConfig
    sensor_size: tuple[int, int] = (640, 480)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

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
        raise ConfigError(f"{source}: top level must be a mapping with keys name, input, backbone, gru, train, augment")
    allowed = {"name", "input", "backbone", "gru", "train", "augment", "sensor_size"}
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
        augment=_section(AugmentConfig, data.get("augment"), f"{source}: augment"),
    )
    cfg.augment.check(f"{source}: augment")
    checks = [
        (cfg.input.downsample >= 1, "input.downsample must be >= 1"),
        (cfg.input.slice_us > 0, "input.slice_us must be > 0"),
        (cfg.input.time_bins >= 1, "input.time_bins must be >= 1"),
        (0 < cfg.input.input_clip <= 255, "input.input_clip must be in (0, 255] (features are cached as uint8)"),
        (cfg.gru.hidden >= 1, "gru.hidden must be >= 1"),
        (cfg.train.seq_len >= 1 and cfg.train.stride >= 1, "train.seq_len and train.stride must be >= 1"),
        (cfg.train.batch_size >= 1 and cfg.train.epochs >= 0, "train.batch_size must be >= 1, train.epochs >= 0"),
        (0.0 <= cfg.train.val_fraction < 1.0, "train.val_fraction must be in [0, 1)"),
        (0.0 <= cfg.train.ema < 1.0, "train.ema must be in [0, 1) (0: no weight averaging)"),
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
