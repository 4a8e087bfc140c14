"""The class every ProcVision algorithm derives from."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional

from .diagnostics import Diagnostics
from .generation import G1, generation_of
from .logger import StructuredLogger
from .session import Session


class _AlgorithmMeta(ABCMeta):
    """Lets an execute-only class (G2/G3, contract §5a) be instantiated without ``get_info``/``pre_execute``.

    A G1 class that forgets one of them still fails at construction, as before.
    """

    def __new__(mcls, name: str, bases: Any, namespace: Dict[str, Any], **kwargs: Any) -> "_AlgorithmMeta":
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if cls.__abstractmethods__ and generation_of(cls) != G1:
            cls.__abstractmethods__ = cls.__abstractmethods__ - {"get_info", "pre_execute"}
        return cls


class BaseAlgorithm(metaclass=_AlgorithmMeta):
    """Derive from this and implement either the G1 API (``get_info``, ``pre_execute``, ``execute`` with
    ``shared_mem_id``/``image_meta``) or only the G3 ``execute(step_index, step_desc, cur_image, guide_image,
    guide_info)``, whose images arrive decoded (H×W×3 uint8 arrays, or None)."""

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
