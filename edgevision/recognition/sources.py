"""Opening a recognition data source (:class:`~edgevision.recognition.recordings.Source`) from a spec string.

A source is opened from a spec string: ``dvsgesture:ROOT``, ``dvsgesture10:ROOT`` (class "other" dropped,
as SpikePoint did), ``nmnist:ROOT``, ``asldvs:ROOT``, ``ncaltech101:ROOT``, or the path of a synthetic gesture set folder.
"""

from __future__ import annotations

from pathlib import Path

from edgevision.errors import DatasetError
from edgevision.recognition.recordings import Source
from edgevision.recognition.synth import open_synthetic


def open_source(spec: str) -> Source:
    """Open a source from ``KIND:ROOT`` or a synthetic-set folder (see module doc)."""
    kind, sep, root = spec.partition(":")
    if sep and kind in TONIC_KINDS:
        from edgevision.recognition.tonic_sources import open_tonic  # tonic is the optional [recognition] extra

        return open_tonic(kind, root)
    path = Path(spec)
    if path.is_dir():
        return open_synthetic(path)
    raise DatasetError(
        f"--data {spec!r}: not a folder and not one of {', '.join(k + ':ROOT' for k in TONIC_KINDS)}; "
        "make a synthetic set with `edgevision data synth-gesture --out DIR`"
    )


TONIC_KINDS = ("dvsgesture", "dvsgesture10", "nmnist", "asldvs", "ncaltech101")
