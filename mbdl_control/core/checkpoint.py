"""Agent checkpoints that never run code: arrays in safetensors, everything else as JSON.

A checkpoint is one safetensors file (Hugging Face's format: a JSON header and raw tensor
bytes, read without unpickling anything). Its metadata holds the agent's class path and its
constructor arguments (``config``) as JSON; every array among the arguments, and every
learned parameter, is a tensor of the file. Model dataclasses in the config are written as
``{"__dataclass__": "module:Class", "fields": {...}}``.

Loading resolves classes only where that cannot run a stranger's code: the agent's class
among the library's agents, a dataclass among ``mbdl_control.models``; any other class (a
user's own agent) is imported only with ``trusted=True``. A file that is truncated, corrupt,
or not a checkpoint gives a :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

#: the format tag in every checkpoint's metadata
FORMAT = "mbdl_control.agent/1"
#: where model dataclasses may come from without ``trusted=True``
SAFE_DATACLASS_MODULES = ("mbdl_control.models.",)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that names something it may not load."""


def _encode(value: Any, tensors: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON, its arrays moved into ``tensors``."""
    if isinstance(value, np.ndarray):
        key = f"config/{len(tensors)}"
        tensors[key] = np.ascontiguousarray(value)
        return {"__array__": key}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {
            f.name: _encode(getattr(value, f.name), tensors) for f in dataclasses.fields(value)
        }
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"config dicts must have string keys, got {list(value)}")
        return {key: _encode(item, tensors) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item, tensors) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} into a checkpoint config: {value!r}")


def resolve(path: str, trusted: bool, allowed: Any = None) -> type:
    """The class at ``"module:Qualname"``: imported only when ``allowed(module, name)`` says
    so, or with ``trusted=True``."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise CheckpointError(f"class {path!r} is not of the form 'package.module:Class'")
    if not trusted and not (allowed and allowed(module, name)):
        raise CheckpointError(
            f"the checkpoint names the class {path!r}, which is not one of the library's; "
            "load it with trusted=True only if you trust the file"
        )
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise CheckpointError(f"{path!r} is not a class")
    return found


def _safe_dataclass(module: str, name: str) -> bool:
    return module.startswith(SAFE_DATACLASS_MODULES)


def _decode(value: Any, tensors: Any, trusted: bool) -> Any:
    if isinstance(value, list):
        return [_decode(item, tensors, trusted) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__array__"}:
        return tensors.get_tensor(value["__array__"])
    if set(value) == {"__dataclass__", "fields"}:
        cls = resolve(value["__dataclass__"], trusted, _safe_dataclass)
        if not dataclasses.is_dataclass(cls):
            raise CheckpointError(f"{value['__dataclass__']!r} is not a dataclass")
        return cls(**_decode(value["fields"], tensors, trusted))
    return {key: _decode(item, tensors, trusted) for key, item in value.items()}


def write_checkpoint(
    path: str | Path, class_path: str, config: dict[str, Any], parameters: dict[str, np.ndarray]
) -> None:
    """Write an agent's class path, constructor arguments and learned parameters."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {}
    encoded = _encode(config, tensors)
    for name, value in parameters.items():
        tensors[f"parameters/{name}"] = np.ascontiguousarray(np.asarray(value))
    metadata = {"format": FORMAT, "class": class_path, "config": json.dumps(encoded)}
    save_file(tensors, str(path), metadata=metadata)


def read_checkpoint(
    path: str | Path, trusted: bool = False, allowed: Any = None
) -> tuple[type, dict[str, Any], dict[str, np.ndarray]]:
    """``(class, config, parameters)`` of the checkpoint at ``path``; ``allowed(module,
    name)`` says which agent classes load without ``trusted``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as tensors:
            metadata = tensors.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise CheckpointError(f"no {FORMAT!r} format tag in its metadata")
            cls = resolve(metadata["class"], trusted, allowed)
            config = _decode(json.loads(metadata["config"]), tensors, trusted)
            parameters = {
                key.partition("/")[2]: tensors.get_tensor(key)
                for key in tensors.keys()
                if key.startswith("parameters/")
            }
    except FileNotFoundError:
        raise
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from error
    except Exception as error:  # a torn or tampered file: say which and why, never a traceback
        raise CheckpointError(
            f"{path} is not a readable agent checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its config is not a table of arguments")
    return cls, config, parameters
