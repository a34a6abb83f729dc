"""The NLU data keeps its shape, and the held-out set never leaks into training."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "nlu" / "check_nlu_data.py"


def test_training_and_heldout_data_checks_pass():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "OK" in result.stdout
