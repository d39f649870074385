"""What the kubelet makes of a rendered container: its environment (envFrom, then env, with
`$(VAR)` references), its argv (command + args, expanded the same way), and container paths that
a volume mount puts elsewhere. Written after the Kubernetes documentation ("Define dependent
environment variables", "Define a command and arguments"), for the rehearsal of the pods."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from tests.deploy_tests.manifests import Doc

# $$ is a literal $; $(NAME) is replaced when NAME is defined, and left as it is otherwise.
_REFERENCE = re.compile(r"\$(\$|\(([-._a-zA-Z0-9]+)\))")


def expand(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        return env.get(match.group(2), match.group(0))

    return _REFERENCE.sub(replace, text)


def unexpanded(text: str, env: Mapping[str, str]) -> list[str]:
    """The `$(NAME)` references in ``text`` that ``env`` does not define."""
    return [m.group(2) for m in _REFERENCE.finditer(text) if m.group(1) != "$" and m.group(2) not in env]


def container_env(container: Doc, config_maps: Mapping[str, Mapping[str, str]],
                  secrets: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The environment the container starts with; a missing ConfigMap, Secret or key that is not
    optional raises KeyError, as the kubelet refuses to start such a container."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref, store = source["configMapRef"], config_maps
        else:
            ref, store = source["secretRef"], secrets
        if ref["name"] in store:
            env.update({source.get("prefix", "") + k: v for k, v in store[ref["name"]].items()})
        elif not ref.get("optional", False):
            raise KeyError(f"{ref['name']} (envFrom)")
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
            continue
        source = item["valueFrom"]
        if "configMapKeyRef" in source or "secretKeyRef" in source:
            ref = source.get("configMapKeyRef") or source["secretKeyRef"]
            store = config_maps if "configMapKeyRef" in source else secrets
            value = store.get(ref["name"], {}).get(ref["key"])
            if value is None:
                if ref.get("optional", False):
                    continue
                raise KeyError(f"{ref['name']}/{ref['key']} (env {item['name']})")
            env[item["name"]] = value
        elif "resourceFieldRef" in source:
            env[item["name"]] = resource_field(container, source["resourceFieldRef"])
        else:
            raise NotImplementedError(f"env {item['name']}: {sorted(source)}")
    return env


# Quantity suffixes (the API's resource.Quantity): decimal SI and binary.
_SUFFIXES = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti|)$")


def quantity(value: object) -> float:
    """A resource quantity (``1500m``, ``3``, ``12Gi``) as a number (cores, bytes)."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def resource_field(container: Doc, ref: Doc) -> str:
    """What the downward API's resourceFieldRef gives: the container's request or limit divided
    by the divisor, rounded up to a whole number. (A limit the container does not set would be
    the node's allocatable; not simulated: raises KeyError, which a test reads as missing.)"""
    kind, name = ref["resource"].split(".", 1)
    value = quantity(container["resources"][kind][name])
    return str(math.ceil(value / quantity(ref.get("divisor", "1")) - 1e-9))


def container_argv(container: Doc, env: Mapping[str, str]) -> list[str]:
    return [expand(a, env) for a in [*container.get("command", []), *container.get("args", [])]]


def remap_paths(env: Mapping[str, str], mounts: Mapping[str, Path]) -> dict[str, str]:
    """Container paths in path-list values (``/tasks:/etc/sweeper/tasks``) replaced by the host
    folders that stand in for their mounts."""
    def one(path: str) -> str:
        for inside, outside in mounts.items():
            if path == inside or path.startswith(inside + "/"):
                return str(outside) + path[len(inside):]
        return path

    return {k: os.pathsep.join(one(p) for p in v.split(os.pathsep)) for k, v in env.items()}
