"""Exceptions an algorithm raises to tell the adapter how a failure should be handled (contract §3, §6)."""


class RecoverableError(Exception):
    """A transient failure: the runner may retry the call (result carries ``retryable: true``)."""


class FatalError(Exception):
    """The worker is unusable: the runner restarts it (result carries ``fatal: true``)."""


class GPUOutOfMemoryError(Exception):
    """The GPU ran out of memory (error code 1004)."""


class ProgramError(Exception):
    """A bug or bad input detected by the SDK or the algorithm."""


class ImageLoadError(ProgramError):
    """The image could not be read from shared memory (error code 1002)."""

    error_code = "1002"
