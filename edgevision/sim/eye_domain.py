"""Domain randomization of the near-eye generator: every randomized factor, its full range and its TRAIN sub-range.

This table is the one place that says what varies and by how much. A *domain string* picks where factors are drawn:

- ``"train"`` (default): every factor uniformly inside its train sub-range;
- ``"full"``: every factor over its full range;
- ``"heldout:<factor>"``: that factor from its full range *outside* its train sub-range, all others in train.

Factors are drawn per subject (anatomy, same in every session of the subject) or per recording (camera,
illumination, sensor, motion: a headset re-mounted and a sensor re-configured per session). Every factor has
its own random stream (seeded by the subject/recording seed and the factor's name), so changing the range of one
factor never changes the draws of another: ``heldout:pupil_radius`` renders the same subjects as ``train`` with
only their pupils changed. ``log`` factors are drawn log-uniformly, ``int`` factors uniformly among the integers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from edgevision.errors import ConfigError


@dataclass(frozen=True)
class Factor:
    """One randomized factor: full range, train sub-range (inclusive), draw law and level (subject/recording)."""

    full: tuple[float, float]
    train: tuple[float, float]
    level: str  # "subject" or "recording"
    unit: str
    doc: str
    law: str = "uniform"  # "uniform", "log" or "int"


def _f(full, train, level, unit, doc, law="uniform") -> Factor:
    return Factor(tuple(map(float, full)), tuple(map(float, train)), level, unit, doc, law)


S, R = "subject", "recording"
FACTORS: dict[str, Factor] = {
    # --- eye anatomy and appearance (per subject) ---------------------------------------------------------
    "pupil_radius": _f((0.9, 4.0), (1.3, 3.0), S, "mm", "mean pupil radius"),
    "iris_radius": _f((5.0, 7.0), (5.4, 6.6), S, "mm", "iris radius"),
    "iris_level": _f((45, 170), (65, 140), S, "grey", "iris grey level at unit illumination"),
    "iris_texture": _f((0.0, 0.25), (0.03, 0.18), S, "rel", "contrast of the iris striations"),
    "iris_limbus": _f((0.1, 0.8), (0.25, 0.65), S, "rel", "darkening of the limbal ring"),
    "sclera_level": _f((135, 240), (160, 225), S, "grey", "sclera grey level"),
    "pupil_level": _f((2, 45), (5, 30), S, "grey", "pupil grey level"),
    "skin_level": _f((85, 205), (110, 185), S, "grey", "skin grey level"),
    "lid_width": _f((1.4, 2.2), (1.55, 2.0), S, "iris r", "half-width of the eye opening"),
    "lid_upper": _f((0.55, 1.45), (0.8, 1.3), S, "iris r", "upper lid apex above the corner line (aperture)"),
    "lid_lower": _f((0.4, 1.0), (0.5, 0.9), S, "iris r", "lower lid depth below the corner line"),
    "lid_skew": _f((-0.35, 0.35), (-0.25, 0.25), S, "rel", "apex shift towards one corner"),
    "lid_tilt": _f((-0.2, 0.2), (-0.14, 0.14), S, "slope", "corner line slope"),
    "lid_centre_dy": _f((-0.15, 0.4), (-0.05, 0.3), S, "iris r", "lid centre below the primary-gaze iris centre"),
    "lid_gaze_coupling": _f((0.005, 0.035), (0.01, 0.028), S, "1/deg", "lid opening change per degree of pitch "
                            "(downward gaze lowers the upper lid over the top of the pupil)"),
    "lash_count": _f((0, 110), (15, 80), S, "lashes", "upper lashes (lower lashes: a third)", "int"),
    "lash_length": _f((0.05, 0.4), (0.1, 0.3), S, "iris r", "upper lash length"),
    "lash_level": _f((5, 90), (12, 60), S, "grey", "lash grey level (darkness)"),
    "brow": _f((0.0, 1.0), (0.0, 1.0), S, "p", "eyebrow in view when < 0.6 (its height from brow_height)"),
    "brow_height": _f((1.8, 4.5), (2.2, 4.0), S, "iris r", "eyebrow above the lid centre"),
    "skin_folds": _f((0, 4), (0, 3), S, "folds", "extra skin folds / creases around the eye", "int"),
    "makeup": _f((0.0, 0.75), (0.0, 0.55), S, "rel", "darkening of eyeliner / shadow regions (0: none)"),
    # --- camera geometry (per recording) ------------------------------------------------------------------
    "eye_distance": _f((22, 52), (27, 44), R, "mm", "camera to eye rotation centre"),
    "focal": _f((400, 640), (450, 590), R, "px", "focal length"),
    "camera_pitch": _f((-35, 45), (-12, 32), R, "deg", "camera elevation: > 0 below the eye looking up, < 0 above"),
    "camera_yaw": _f((-38, 38), (-26, 26), R, "deg", "camera azimuth"),
    "camera_roll": _f((-35, 35), (-22, 22), R, "deg", "image roll"),
    "offset_x": _f((-190, 190), (-130, 130), R, "px", "primary-gaze pupil from the image centre, x"),
    "offset_y": _f((-140, 140), (-95, 95), R, "px", "primary-gaze pupil from the image centre, y"),
    "focus_blur": _f((0.0, 2.6), (0.0, 1.6), R, "px", "Gaussian defocus sigma"),
    "vignetting": _f((0.0, 0.75), (0.1, 0.5), R, "rel", "lens vignetting: relative fall-off at the corners"),
    # --- illumination (per recording) ---------------------------------------------------------------------
    "illumination": _f((0.4, 1.7), (0.7, 1.2), R, "gain", "IR LED strength (global gain)"),
    "led_count": _f((0, 6), (1, 5), R, "LEDs", "IR LEDs, one corneal glint each (when visible)", "int"),
    "led_ring_mm": _f((4, 22), (6, 16), R, "mm", "LED ring radius around the lens"),
    "led_angle": _f((0, 360), (0, 360), R, "deg", "angular position of the first LED"),
    "led_falloff": _f((0.05, 0.6), (0.15, 0.45), R, "rel", "IR fall-off away from the illuminated spot"),
    "led_spot_x": _f((-0.5, 0.5), (-0.3, 0.3), R, "width", "centre of the illuminated spot from the image centre"),
    "led_spot_y": _f((-0.5, 0.5), (-0.3, 0.3), R, "height", "centre of the illuminated spot from the image centre"),
    "ambient": _f((0, 45), (0, 25), R, "grey", "ambient (additive) light level"),
    "ambient_drift": _f((0.0, 0.6), (0.0, 0.4), R, "rel", "sd of the slow ambient drift (correlation 2 s)"),
    "flicker": _f((0.0, 0.6), (0.0, 0.35), R, "rel", "ambient flicker depth"),
    "flicker_hz": _f((0.5, 25), (1, 20), R, "Hz", "ambient flicker frequency (sampled by the 100 Hz frames)", "log"),
    # --- sensor (per recording) ---------------------------------------------------------------------------
    "dvs_threshold": _f((0.08, 0.7), (0.13, 0.42), R, "log", "mean of the ON and OFF contrast thresholds", "log"),
    "dvs_on_off_ratio": _f((0.55, 1.8), (0.7, 1.45), R, "ratio", "ON / OFF threshold ratio", "log"),
    "dvs_mismatch": _f((0.0, 0.08), (0.01, 0.05), R, "log", "per-pixel threshold sd"),
    "dvs_refractory_us": _f((20, 5000), (60, 2000), R, "us", "refractory period", "log"),
    "dvs_cutoff_hz": _f((40, 4000), (80, 2000), R, "Hz", "photoreceptor bandwidth at full intensity", "log"),
    "dvs_leak_hz": _f((0.001, 0.3), (0.003, 0.1), R, "Hz/px", "leak (background ON) rate", "log"),
    "dvs_shot_hz": _f((1e-4, 0.1), (3e-4, 0.03), R, "Hz/px", "shot-noise background activity", "log"),
    "dvs_hot_fraction": _f((0.0, 2e-4), (0.0, 1e-4), R, "frac", "hot-pixel fraction"),
    "dvs_hot_hz": _f((5, 1000), (10, 400), R, "Hz", "hot-pixel rate", "log"),
    "sensor_lowres": _f((0.0, 1.0), (0.0, 1.0), R, "p", "a lower-resolution sensor when < 0.3 (width: sensor_scale)"),
    "sensor_scale": _f((0.3, 1.0), (0.45, 1.0), R, "rel", "lower-resolution sensor width / 640 (events mapped back)"),
    # --- motion (per recording) ---------------------------------------------------------------------------
    "fixation_s": _f((0.12, 1.2), (0.18, 0.8), R, "s", "median fixation duration", "log"),
    "drift_deg": _f((0.02, 0.35), (0.04, 0.25), R, "deg", "sd of the fixational drift", "log"),
    "p_microsaccade": _f((0.05, 0.6), (0.15, 0.45), R, "p", "microsaccade after a fixation"),
    "p_pursuit": _f((0.0, 0.35), (0.03, 0.25), R, "p", "smooth pursuit after a fixation"),
    "pursuit_speed": _f((2, 40), (4, 30), R, "deg/s", "mean smooth-pursuit speed", "log"),
    "saccade_vmax": _f((320, 720), (400, 620), R, "deg/s", "main-sequence asymptote"),
    "saccade_spread": _f((0.0, 0.35), (0.05, 0.25), R, "log sd", "per-saccade spread around the main sequence"),
    "gaze_range_yaw": _f((12, 30), (15, 25), R, "deg", "gaze yaw stays within +-range"),
    "gaze_range_pitch": _f((8, 24), (11, 19), R, "deg", "gaze pitch stays within +-range"),
    "blink_rate_hz": _f((0.03, 0.9), (0.08, 0.5), R, "Hz", "blink rate", "log"),
    "partial_blinks": _f((0.0, 0.7), (0.0, 0.5), R, "p", "fraction of blinks that do not close fully"),
    "pupil_dilation_sd": _f((0.02, 0.3), (0.04, 0.2), R, "log", "sd of the pupil size (log scale)"),
    "pupil_dilation_tau_s": _f((0.3, 6.0), (0.6, 4.0), R, "s", "correlation time of the pupil size", "log"),
    "slippage_px": _f((0.0, 10.0), (0.0, 6.0), R, "px", "sd of the slow camera slippage (correlation 4 s)"),
}
del S, R

HELDOUT_FACTORS: tuple[str, ...] = ("dvs_threshold", "pupil_radius", "camera_pitch", "illumination")
DOMAINS = ("train", "full", "heldout:<factor>")


def _heldout_capable() -> list[str]:
    return [n for n, f in FACTORS.items() if f.train[0] > f.full[0] or f.train[1] < f.full[1]]


@dataclass(frozen=True)
class Domain:
    """A parsed domain string: ``mode`` in {"train", "full", "heldout"}, ``factor`` for heldout."""

    mode: str = "train"
    factor: str | None = None

    def __str__(self) -> str:
        return f"heldout:{self.factor}" if self.mode == "heldout" else self.mode

    def sampler(self, seed: int, level: str) -> "Sampler":
        """Draws of the factors of ``level`` ("subject" or "recording") for one subject/recording seed."""
        return Sampler(self, int(seed), level)


def parse_domain(text: "str | Domain") -> Domain:
    """``"train"``, ``"full"`` or ``"heldout:<factor>"`` -> :class:`Domain`; anything else raises ConfigError."""
    if isinstance(text, Domain):
        return text
    valid = _heldout_capable()
    if text in ("train", "full"):
        return Domain(text)
    if isinstance(text, str) and text.startswith("heldout:") and text[len("heldout:"):] in valid:
        return Domain("heldout", text[len("heldout:"):])
    raise ConfigError(
        f"domain {text!r} is not valid: use 'train', 'full' or 'heldout:<factor>' with <factor> one of "
        f"{', '.join(valid)} (tested held-out factors: {', '.join(HELDOUT_FACTORS)})"
    )


def _draw(f: Factor, lo: float, hi: float, u: float) -> float:
    if f.law == "log":
        return float(np.clip(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))), lo, hi))
    if f.law == "int":
        return float(np.floor(lo + u * (hi - lo + 1 - 1e-9)))
    return float(lo + u * (hi - lo))


def _measure(f: Factor, lo: float, hi: float) -> float:
    if f.law == "log":
        return float(np.log(hi) - np.log(lo))
    return hi - lo + (1.0 if f.law == "int" else 0.0)


def draw_factor(name: str, domain: Domain, u: float) -> float:
    """The value of factor ``name`` in ``domain`` for a uniform variate ``u`` in [0, 1)."""
    f = FACTORS[name]
    if domain.mode == "full":
        return _draw(f, *f.full, u)
    if domain.mode == "heldout" and domain.factor == name:
        step = 1.0 if f.law == "int" else 0.0
        parts = [(f.full[0], f.train[0] - step), (f.train[1] + step, f.full[1])]
        parts = [(a, b) for a, b in parts if b > a or (f.law == "int" and b >= a)]
        sizes = np.array([_measure(f, a, b) for a, b in parts])
        cum = np.cumsum(sizes) / sizes.sum()
        i = int(min(np.searchsorted(cum, u, side="right"), len(parts) - 1))
        lo_u = cum[i - 1] if i else 0.0
        return _draw(f, *parts[i], (u - lo_u) / (cum[i] - lo_u))
    return _draw(f, *f.train, u)


@dataclass(frozen=True)
class Sampler:
    """``sampler("name")`` -> the factor's value; one independent stream per (seed, factor name)."""

    domain: Domain
    seed: int
    level: str

    def __call__(self, name: str) -> float:
        f = FACTORS[name]
        if f.level != self.level:
            raise ConfigError(f"factor {name!r} is drawn per {f.level}, not per {self.level}")
        u = np.random.default_rng(np.random.SeedSequence([self.seed, zlib.crc32(name.encode())])).random()
        return draw_factor(name, self.domain, float(u))


def factor_table() -> list[dict[str, object]]:
    """The table as rows (name, level, unit, law, full, train, doc), e.g. for reports and manifests."""
    return [{"name": n, "level": f.level, "unit": f.unit, "law": f.law, "full": list(f.full), "train": list(f.train),
             "doc": f.doc} for n, f in FACTORS.items()]
