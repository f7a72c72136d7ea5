"""The errors a user can fix: bad config values, index files, images, checkpoints, media.

They live at the bottom of the package, below every module that raises them, so a command
(:data:`au.run.folder.INPUT_ERRORS`) can turn them into one ``error:`` line without importing
the layers that raise them. The modules that raise them import them from here (and so keep
their old import paths, e.g. ``au.data.index.IndexFormatError``).
"""

from __future__ import annotations


class ConfigValueError(ValueError):
    """A config value of the wrong type or out of range (one line per key)."""


class UnknownAUError(ValueError):
    """Raised when a name does not denote an AU that au knows."""


class IndexFormatError(ValueError):
    """Raised when an index CSV is missing, unreadable or does not follow the schema."""


class SplitError(ValueError):
    """Raised when a split cannot be formed as configured."""


class ImageReadError(OSError):
    """Raised when an image file is missing or cannot be decoded."""


class TruncatedImageError(ImageReadError):
    """Raised when a JPEG or PNG file is cut short (it would decode to partly grey)."""


class MediaReadError(OSError):
    """An image or video that is missing, corrupt, or has no decodable frame."""


class PrepareError(RuntimeError):
    """A release on disk is not what a prepare script expects; the message names the file."""


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, not au's, or needs code to load."""


class ResumeMismatchError(CheckpointError):
    """A resumed checkpoint whose data, split, AUs, task or backbone differ from the run's."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (e.g. the disk is full); the previous one is kept."""


class UnknownBackboneError(ValueError):
    """A backbone name that is neither an au alias nor a timm model."""


class PretrainedWeightsError(RuntimeError):
    """Weights (ImageNet, MTCNN) that cannot be found, fetched, read or loaded; names the file."""


class WeightsNotFetchedError(PretrainedWeightsError):
    """Weights that ``python -m au.weights`` fetches are not in the cache at all (never fetched)."""


class MissingPackageError(ImportError):
    """An optional package that a chosen option needs is not installed (names what to install)."""


class ExportUnavailableError(RuntimeError):
    """The checkpoint's ONNX export is missing or stale and cannot be written anywhere."""


class OnnxParityError(ExportUnavailableError):
    """The exported ONNX model's outputs differ from PyTorch's beyond the tolerance."""


class RunFolderError(ValueError):
    """Finished runs that cannot be summarised (none, two of one fold, mixed tasks); names them."""


class NoWindowError(RuntimeError):
    """OpenCV cannot open a window here (opencv-python-headless, or no display)."""


class FrameQueryError(ValueError):
    """A ``--frames`` filter that is not a condition on a run's index columns."""


class ComparisonError(ValueError):
    """Runs that cannot be compared as asked (the message names them)."""
