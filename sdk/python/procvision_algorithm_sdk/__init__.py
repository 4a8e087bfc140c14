"""ProcVision algorithm SDK: the base class, session, shared-memory image access and logging an algorithm uses."""
__version__ = "0.1.0"

from .base import BaseAlgorithm
from .diagnostics import Diagnostics
from .errors import FatalError, GPUOutOfMemoryError, ImageLoadError, ProgramError, RecoverableError
from .logger import StructuredLogger
from .session import Session
from .shared_memory import (
    dev_clear_shared_memory,
    dev_write_image_to_shared_memory,
    read_image_from_shared_memory,
    write_image_array_to_shared_memory,
)

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
