"""The embedded synthetic AU video data set: procedurally rendered faces with DISFA-like labels.

``ensure_synthetic(SyntheticConfig())`` returns the folder of the default set (24 subjects x 150
frames, 128 px), generating it under :func:`default_data_root` on first use. The folder is an
ordinary index (see :mod:`au.data.index`); ``datasets/synthetic/README.md`` is its card.
"""

from au.data.synthetic.writer import (
    SyntheticConfig,
    default_data_root,
    ensure_synthetic,
    generate_synthetic,
)

__all__ = ["SyntheticConfig", "default_data_root", "ensure_synthetic", "generate_synthetic"]
