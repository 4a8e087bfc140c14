import sys
from pathlib import Path

import pytest

SDK_ROOT = Path(__file__).resolve().parents[1]
if str(SDK_ROOT) not in sys.path:
    sys.path.insert(0, str(SDK_ROOT))


@pytest.fixture
def shm_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Segments go to a per-test directory (the file-backed seam), never to the machine's /dev/shm."""
    directory = tmp_path / "shm"
    directory.mkdir()
    monkeypatch.setenv("PROC_SHM_DIR", str(directory))
    return directory
