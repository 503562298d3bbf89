"""The held-out near-eye family: a 3-D eyeball ray caster with its own motion and sensor models.

Written independently of the procedural renderer (``edgevision.sim.eye_*``) and never used for training: it measures
how a tracker trained on our renderer copes with a different one. Entry point: :func:`generate_family_dataset`.
"""

from edgevision.sim.eyeball.dataset import generate_family_dataset, simulate_recording

__all__ = ["generate_family_dataset", "simulate_recording"]
