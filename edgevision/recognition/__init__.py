"""Event-based recognition: dataset adapters (tonic, synthetic gestures), classifiers (ESDA sparse CNN,
SpikePoint SNN, PointNet++, random features), training/evaluation and efficiency accounting."""
