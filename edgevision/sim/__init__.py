"""Synthetic event data: DVS emulator and procedural near-eye recordings."""
