"""``python -m procvision_algorithm_sdk.adapter``: runs an algorithm as a ProcVision worker process."""
from .runtime import main

__all__ = ["main"]
