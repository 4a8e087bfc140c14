"""Example ProcVision algorithm: see main.AlgorithmExample."""
from .main import AlgorithmExample

__all__ = ["AlgorithmExample"]
