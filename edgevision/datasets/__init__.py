"""On-disk dataset layouts, writers and loaders (3ET+, tonic's ThreeET)."""
