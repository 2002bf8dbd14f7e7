"""Errors raised by the data layer. Each names the problem and the fix."""


class DatasetError(Exception):
    """Base class of every data-layer error."""


class UnknownDatasetError(DatasetError, KeyError):
    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


class DatasetUnavailableError(DatasetError, RuntimeError):
    """The dataset is neither on disk, nor in the mirror, nor downloadable."""


class MirrorMissingFileError(DatasetError, FileNotFoundError):
    """The offline mirror lacks a file the dataset class needs."""


class InvalidGraphError(DatasetError, ValueError):
    """A graph whose tensors are inconsistent (NaN features, out-of-range edges, ...)."""
