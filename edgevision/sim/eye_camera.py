"""The built-in live event camera: a synthetic near-eye scene rendered and emulated on the fly."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from edgevision.datasets.layouts import SENSOR_SIZE
from edgevision.sim.dvs import DVSEmulator
from edgevision.sim.eye_dataset import LIVE_RATE, EyeScene, stream_scene
from edgevision.sim.eye_geometry import sample_subject


class SyntheticEyeCamera:
    """A live synthetic near-eye event camera: ``stream()`` yields ``(events, label_row)`` every 10 ms.

    Events are EVENT_DTYPE (640x480), label rows float32 (x, y, closed) at the end of each slot, as in the
    generated datasets. Frames are rendered on the fly at a lower adaptive rate than the dataset generator
    (a frame per 4 px of motion instead of 1.5 px, at least every 10 ms) so that it runs faster than real
    time on one core; event timestamps are still interpolated between frames.
    """

    sensor_size = (SENSOR_SIZE[0], SENSOR_SIZE[1], 2)

    def __init__(self, seed: int = 0, subject: int | None = None, params: Any = None) -> None:
        self.seed = seed
        self.subject_id = subject if subject is not None else seed
        self._rate = LIVE_RATE
        ss = np.random.SeedSequence([seed, self.subject_id, 0x11FE])
        motion_seed, dvs_seed = ss.generate_state(2)
        self._rng = np.random.default_rng(int(motion_seed))
        self.scene = EyeScene(sample_subject(self.subject_id), int(dvs_seed))
        if params is not None:
            self.scene.dvs = DVSEmulator(params)

    def stream(self, seconds: float | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield one ``(events, label)`` pair per 10 ms for ``seconds`` (forever when None)."""
        yield from stream_scene(self.scene, seconds, self._rng, self._rate)
