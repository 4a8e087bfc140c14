"""ProcVision algorithm SDK: the base class, session, shared-memory image access and logging an algorithm uses."""
__version__ = "1.0.0"

from .base import BaseAlgorithm
from .diagnostics import Diagnostics
from .errors import FatalError, GPUOutOfMemoryError, ImageLoadError, ProgramError, RecoverableError
from .logger import StructuredLogger
from .session import Session

# The shared-memory helpers need numpy; importing them lazily (PEP 562) lets the adapter import this package and
# say hello before numpy loads (~100 ms), so a worker is visibly alive from its first milliseconds.
_LAZY = frozenset(
    {
        "read_image_from_shared_memory",
        "write_image_array_to_shared_memory",
        "dev_write_image_to_shared_memory",
        "dev_clear_shared_memory",
    }
)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import shared_memory

        return getattr(shared_memory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BaseAlgorithm",
    "Session",
    "read_image_from_shared_memory",
    "write_image_array_to_shared_memory",
    "dev_write_image_to_shared_memory",
    "dev_clear_shared_memory",
    "StructuredLogger",
    "Diagnostics",
    "RecoverableError",
    "FatalError",
    "GPUOutOfMemoryError",
    "ProgramError",
    "ImageLoadError",
    "__version__",
]
