"""NVIDIA GPUs through NVML (``nvidia-ml-py``, imported as ``pynvml``).

With no NVIDIA driver, no GPU or no ``nvidia-ml-py``, :func:`load_nvml` answers ``None`` and the
monitor shows "no GPU"; a figure a GPU does not support (temperature on some models) is ``None``.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: What the monitor shows where no NVIDIA GPU is usable.
NO_GPU = "no GPU"


def load_nvml():
    """``pynvml`` initialised, or ``None`` where NVML is not usable here (the reason logged at debug)."""
    try:
        import pynvml
    except ImportError:
        log.debug("No GPU figures: nvidia-ml-py is not installed")
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        log.debug("No GPU figures: NVML did not start (%s)", e)
        return None
    return pynvml


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _figure(nvml, call, *args):
    """One NVML query; ``None`` where the GPU does not support it."""
    try:
        return call(*args)
    except nvml.NVMLError as e:
        log.debug("NVML %s: %s", getattr(call, "__name__", call), e)
        return None


def gpu_figures(nvml) -> list[dict]:
    """One dict per GPU: index, name, utilisation (percent), memory used/total (bytes), temperature (°C)."""
    try:
        count = nvml.nvmlDeviceGetCount()
    except nvml.NVMLError as e:
        log.warning("Could not count GPUs through NVML: %s", e)
        return []
    gpus = []
    for index in range(count):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except nvml.NVMLError as e:
            log.warning("Could not open GPU %d through NVML: %s", index, e)
            continue
        name = _figure(nvml, nvml.nvmlDeviceGetName, handle)
        utilization = _figure(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = _figure(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
        temperature = _figure(nvml, nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
        gpus.append({
            "index": index,
            "name": _text(name) if name is not None else None,
            "utilization": utilization.gpu if utilization is not None else None,
            "memory_used": memory.used if memory is not None else None,
            "memory_total": memory.total if memory is not None else None,
            "temperature": temperature,
        })
    return gpus
