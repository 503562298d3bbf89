"""Torch models: sparse conv ops (``sparse_ops``, spconv reference in ``spconv_ops``), IR-mirroring nodes
(``layers``), the sparse backbone, the eye tracker (``eye_model``), its config, inputs, data cache, training,
metrics, checkpoints, plots and the dense masked baseline (``dense``)."""
