"""The model server every model deployment runs: MLflow's scoring server plus the Open Inference Protocol.

    python -m mllab.services.deployments.modelserver --model-dir DIR --name NAME --host H --port P

MLflow's scoring server (``mlflow.pyfunc.scoring_server``, a FastAPI app) loads the model with
``mlflow.pyfunc.load_model`` and answers ``POST /invocations``, ``GET /ping``, ``/health`` and
``/version``.  The Open Inference Protocol v2 (KServe, Triton, MLServer) is a thin adapter on
the same app: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}``,
``/v2/models/{name}/ready`` and ``POST /v2/models/{name}/infer``.  Input tensors become what the
model takes (a DataFrame with the signature's column names, or arrays); errors are
``{"error": "..."}`` with 400 (404 for another model's name), as the protocol says.

The model is loaded before the port opens, so a server that answers is ready.  Its Python
packages are this environment's (MLflow's ``env_manager=local``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema

log = logging.getLogger(__name__)

#: Open Inference Protocol datatypes and the numpy types they are read as.
V2_DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": object,
}
#: The name of the one output of a model whose predictions are not named columns.
OUTPUT_NAME = "predict"


class InferenceError(Exception):
    """A request the protocol answers with ``{"error": message}`` and ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- Open Inference Protocol <-> what a pyfunc model takes and gives ---------------------------


def read_tensor(item: Any) -> tuple[str, np.ndarray]:
    """One request input ``{"name", "shape", "datatype", "data"}`` as (name, array of that shape)."""
    if not isinstance(item, dict):
        raise InferenceError("each input must be an object with name, shape, datatype and data")
    missing = [key for key in ("name", "shape", "datatype", "data") if key not in item]
    if missing:
        raise InferenceError(f"input {item.get('name', '?')!r} lacks {', '.join(missing)}")
    name, shape, datatype = item["name"], item["shape"], item["datatype"]
    if not isinstance(name, str) or not name:
        raise InferenceError("an input's name must be a non-empty string")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise InferenceError(f"input {name!r}: shape must be a list of non-negative integers, not {shape!r}")
    if datatype not in V2_DATATYPES:
        raise InferenceError(f"input {name!r}: datatype {datatype!r} is not one of {', '.join(V2_DATATYPES)}")
    try:
        array = np.asarray(item["data"], dtype=V2_DATATYPES[datatype])
    except (TypeError, ValueError) as e:
        raise InferenceError(f"input {name!r}: data is not {datatype}: {e}") from None
    if array.size != math.prod(shape):
        raise InferenceError(f"input {name!r}: {array.size} values do not fill shape {shape}")
    return name, array.reshape(shape)


def _column(name: str, array: np.ndarray) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    if array.ndim != 1:
        raise InferenceError(f"input {name!r}: a column must have shape [n] or [n, 1], not {list(array.shape)}")
    return array


def _columns(tensors: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    columns = {name: _column(name, array) for name, array in tensors}
    if len({len(c) for c in columns.values()}) > 1:
        raise InferenceError("inputs given as columns must all have the same length")
    return pd.DataFrame(columns)


def model_input(tensors: list[tuple[str, np.ndarray]], schema: Schema | None) -> Any:
    """What the model's ``predict`` takes, from the request's tensors and its input signature.

    - One tensor of shape ``[n, k]`` for a model with ``k`` named columns: a DataFrame with
      those column names (the usual case for a model trained on a DataFrame).
    - Several tensors of shape ``[n]`` (or ``[n, 1]``): one column each, by name.
    - A model with a tensor signature, or none: the array itself (a dict of them by name when
      there are several; columns by name without a signature).
    """
    if not tensors:
        raise InferenceError("inputs must list at least one tensor")
    if len({name for name, _ in tensors}) != len(tensors):
        raise InferenceError("input names must be distinct")
    if schema is not None and schema.is_tensor_spec():
        if len(tensors) == 1:
            return tensors[0][1]
        return dict(tensors)
    if schema is None or not schema.has_input_names():
        return tensors[0][1] if len(tensors) == 1 else _columns(tensors)
    names = schema.input_names()
    if len(tensors) == 1:
        array = tensors[0][1]
        if array.ndim == 2 and array.shape[1] == len(names):
            return pd.DataFrame(array, columns=names)
        if array.ndim == 1 and len(names) == 1:
            return pd.DataFrame({names[0]: array})
    unknown = [name for name, _ in tensors if name not in names]
    if unknown:
        raise InferenceError(
            f"the model takes one [n, {len(names)}] tensor, or one [n] tensor per column named "
            f"{', '.join(names)}; {', '.join(map(repr, unknown))} is not one of them"
        )
    return _columns(tensors)


def v2_datatype(array: np.ndarray) -> str:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iuf":
        return {"i": "INT", "u": "UINT", "f": "FP"}[kind] + str(8 * size)
    return "BYTES"


def _tensor(name: str, values: Any) -> dict:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        array = np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(array.shape)
    return {"name": name, "shape": list(array.shape), "datatype": v2_datatype(array), "data": array.ravel().tolist()}


def model_outputs(predictions: Any) -> list[dict]:
    """The protocol's outputs: ``predict`` for plain predictions, one tensor per named column otherwise."""
    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] == 1:
            return [_tensor(OUTPUT_NAME, predictions.iloc[:, 0].to_numpy())]
        return [_tensor(str(column), predictions[column].to_numpy()) for column in predictions.columns]
    if isinstance(predictions, pd.Series):
        return [_tensor(OUTPUT_NAME, predictions.to_numpy())]
    if isinstance(predictions, dict):
        return [_tensor(str(key), value) for key, value in predictions.items()]
    return [_tensor(OUTPUT_NAME, predictions)]


def _schema_tensors(schema: Schema | None, unnamed: str) -> list[dict]:
    if schema is None:
        return []
    tensors = []
    for i, spec in enumerate(schema.inputs):
        name = getattr(spec, "name", None) or (unnamed if len(schema.inputs) == 1 else f"{unnamed}-{i}")
        shape = list(getattr(spec, "shape", None) or [-1])
        try:
            datatype = v2_datatype(np.empty(0, dtype=spec.type.to_numpy() if hasattr(spec.type, "to_numpy")
                                            else spec.type))
        except Exception:
            datatype = "BYTES"
        tensors.append({"name": name, "datatype": datatype, "shape": shape})
    return tensors


# --- the app -----------------------------------------------------------------------------------


def add_v2_routes(app: FastAPI, model: PyFuncModel, name: str) -> None:
    """The Open Inference Protocol's REST routes for ``model``, served as ``name``."""
    from mlflow.exceptions import MlflowException
    from mlflow.version import VERSION

    input_schema = model.metadata.get_input_schema()
    output_schema = model.metadata.get_output_schema()

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def unknown(model_name: str) -> JSONResponse | None:
        if model_name != name:
            return error(f"no model {model_name!r} here; this server serves {name!r}", 404)
        return None

    @app.get("/v2")
    async def server_metadata():
        return {"name": "mllab-model-server", "version": VERSION, "extensions": []}

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        return {"ready": True}

    @app.get("/v2/models/{model_name}")
    async def metadata(model_name: str):
        return unknown(model_name) or {
            "name": name, "versions": [], "platform": "mlflow",
            "inputs": _schema_tensors(input_schema, "input"),
            "outputs": _schema_tensors(output_schema, OUTPUT_NAME),
        }

    @app.get("/v2/models/{model_name}/ready")
    async def model_ready(model_name: str):
        return unknown(model_name) or {"name": name, "ready": True}

    @app.post("/v2/models/{model_name}/infer")
    async def infer(model_name: str, request: Request):
        if response := unknown(model_name):
            return response
        try:
            body = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return error(f"the request body is not JSON: {e}")
        try:
            if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
                raise InferenceError('the request must be {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
            data = model_input([read_tensor(item) for item in body["inputs"]], input_schema)
        except InferenceError as e:
            return error(str(e), e.status)
        try:
            predictions = await asyncio.to_thread(model.predict, data)
        except MlflowException as e:
            return error(f"the model refused the input: {e.message}")
        except Exception as e:
            log.warning("Model %s failed on an inference request", name, exc_info=True)
            return error(f"the model could not predict on this input: {type(e).__name__}: {e}")
        answer: dict[str, Any] = {"model_name": name}
        if "id" in body:
            answer["id"] = body["id"]
        answer["outputs"] = model_outputs(predictions)
        return answer


def build_app(model_dir: str, name: str) -> FastAPI:
    """MLflow's scoring server for the model in ``model_dir``, with the v2 routes as ``name``."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    model = mlflow.pyfunc.load_model(model_dir)
    app = scoring_server.init(model)
    add_v2_routes(app, model, name)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mllab.services.deployments.modelserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="folder of an MLflow model (with its MLmodel file)")
    parser.add_argument("--name", default="model", help="the model's name in v2 routes (the deployment's name)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import uvicorn

    app = build_app(args.model_dir, args.name)
    print(f"Serving model {args.name} from {args.model_dir} at http://{args.host}:{args.port}/", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
