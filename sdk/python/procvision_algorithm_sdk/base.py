"""The class every ProcVision algorithm derives from."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional

from .diagnostics import Diagnostics
from .logger import StructuredLogger
from .session import Session


class BaseAlgorithm(ABC):
    def __init__(self) -> None:
        self.logger = StructuredLogger()
        self.diagnostics = Diagnostics()
        self._resources_loaded = False
        self._model_version: Optional[str] = None
        self._supported_pids: List[str] = []

    def setup(self) -> None:
        """Load models once, before the worker reports ready."""

    def teardown(self) -> None:
        """Release resources; runs once when the worker stops."""

    def on_step_start(self, step_index: int, session: Session, context: Dict[str, Any]) -> None:
        """Before the first call of a step in a session; ``context`` has ``pid`` and ``trace_id``."""

    def on_step_finish(self, step_index: int, session: Session, result: Dict[str, Any]) -> None:
        """After the step's ``execute``."""

    def reset(self, session: Session) -> None:
        """The host restarted the inspection flow of ``session``."""

    @abstractmethod
    def get_info(self) -> Dict[str, Any]:
        """``{name, version, description?, supported_pids, steps}``."""

    @abstractmethod
    def pre_execute(
        self,
        step_index: int,
        pid: str,
        session: Session,
        user_params: Dict[str, Any],
        shared_mem_id: str,
        image_meta: Dict[str, Any],
    ) -> Dict[str, Any]:
        """``{status, message, error_code?, data: {calibration_rects?}, debug?}``."""

    @abstractmethod
    def execute(
        self,
        step_index: int,
        pid: str,
        session: Session,
        user_params: Dict[str, Any],
        shared_mem_id: str,
        image_meta: Dict[str, Any],
    ) -> Dict[str, Any]:
        """``{status, message, error_code?, data: {result_status, ng_reason?, defect_rects?, position_rects?}, debug?}``."""
