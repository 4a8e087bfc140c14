"""Which released algorithm API an entry class implements (contract §5a), told from the class itself.

- ``G1`` (original 0.0.3–0.0.7, and this SDK's own): ``get_info``, ``pre_execute`` and
  ``execute(step_index, pid, session, user_params, shared_mem_id, image_meta)``.
- ``G2`` (unreleased): only ``execute(step_index, session, user_params, shared_mem_id, image_meta)``.
- ``G3`` (original 0.3.0–0.3.2): only ``execute(step_index, step_desc, cur_image, guide_image, guide_info)``, the
  images decoded to numpy arrays (or None).
"""
from __future__ import annotations

import inspect
from typing import Any, List, Optional

G1, G2, G3 = "G1", "G2", "G3"

_G3_NAMES = frozenset({"step_desc", "cur_image", "guide_image", "guide_info"})
_G2_NAMES = ("step_index", "session", "user_params", "shared_mem_id", "image_meta")


def generation_of(cls: type) -> str:
    """The generation of ``cls`` from its ``execute`` parameters; G1 when they say nothing else.

    Names decide first (a G3 name anywhere → G3; ``pid`` → G1; the G2 list → G2). Authors who renamed every
    parameter are judged by the count: six → G1; five → G2 when the second one holds the session, else G3 (the
    released execute-only generation).
    """
    params = _execute_params(cls)
    if params is None:
        # ``execute(*args)`` or a wrapper hiding its signature: a BaseAlgorithm subclass that leaves get_info and
        # pre_execute abstract cannot be G1, so it is the released execute-only generation. A class that is no
        # BaseAlgorithm at all stays G1, whose start says so.
        if _defines(cls, "get_info") or _defines(cls, "pre_execute") or not hasattr(cls, "get_info"):
            return G1
        return G3
    names = set(params)
    if names & _G3_NAMES:
        return G3
    if "pid" in names or len(params) >= 6:
        return G1
    if tuple(params) == _G2_NAMES or (len(params) == 5 and params[1] == "session"):
        return G2
    if len(params) == 5:
        return G3
    return G1


def _defines(cls: type, name: str) -> bool:
    """``cls`` has a concrete ``name`` (BaseAlgorithm's abstract ones do not count)."""
    method = getattr(cls, name, None)
    return callable(method) and not getattr(method, "__isabstractmethod__", False)


def _execute_params(cls: type) -> Optional[List[str]]:
    """Positional parameter names of ``cls.execute`` after ``self``; None when they cannot be read (``*args``)."""
    execute: Any = getattr(cls, "execute", None)
    if not callable(execute):
        return None
    try:
        signature = inspect.signature(execute)
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    names = [p.name for p in params if p.kind in positional]
    return names[1:] if names and names[0] in ("self", "cls") else names
