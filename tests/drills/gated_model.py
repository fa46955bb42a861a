"""An MLflow model (a pyfunc ``loader_module``) that loads only once its gate file exists, then
answers one fixed class for every row.

The deployments drill serves it: until the test creates the gate, its model server has started
but is not ready, so the test knows where the service is when it kills it, and the fixed answer
tells which version a deployment serves.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class Gated:
    def __init__(self, answer: int) -> None:
        self.answer = answer

    def predict(self, data, params=None) -> list[int]:
        return [self.answer] * len(data)


def _load_pyfunc(path: str) -> Gated:
    settings = json.loads(Path(path).read_text())
    while not Path(settings["gate"]).exists():
        time.sleep(0.1)
    return Gated(settings["answer"])


def save(folder: Path, gate: Path, answer: int) -> Path:
    """The model in ``folder``: it loads once ``gate`` exists and then answers ``answer``."""
    import mlflow.pyfunc

    settings = folder.with_name(folder.name + ".json")
    settings.write_text(json.dumps({"gate": str(gate), "answer": answer}))
    # Requirements given: MLflow would infer them by loading the model, which waits for the gate.
    mlflow.pyfunc.save_model(str(folder), loader_module=Path(__file__).stem, data_path=str(settings),
                             code_paths=[__file__], pip_requirements=["mlflow"])
    return folder
