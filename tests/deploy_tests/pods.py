"""Rendered pods run as local processes: a stand-in for a node, for the rehearsal tests.

A user's overlay on top of overlays/prod is rendered with kustomize; each pod of a Job becomes
its container's argv and environment, resolved as the kubelet would (kubelet.py), run with
the host folders that stand in for its volume mounts. What is not simulated: scheduling, images,
the GPU itself (a stand-in `nvidia-smi` lists the one GPU the pod's limit asks for), and the
Job controller, whose decisions the tests take from job_policy.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.deploy_tests import kubelet
from tests.deploy_tests.manifests import K8S, Doc, kustomize, of_kind, one, parse

REPO = Path(__file__).resolve().parents[2]
# What the image's Dockerfile sets with ENV and the container runtime adds.
IMAGE_ENV = {"PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
_CHILD_PID = re.compile(r"\[supervisor\] worker \d+ on [^:]+: pid (\d+)")



def user_overlay(folder: Path, settings: dict[str, str], worker_pods: int) -> list[Doc]:
    """overlays/prod as a user adapts it: settings merged into sweeper-config, N worker pods."""
    folder.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "overlays" / "prod", folder)],
        "configMapGenerator": [{"name": "sweeper-config", "behavior": "merge",
                                "literals": [f"{k}={v}" for k, v in settings.items()]}],
        "generatorOptions": {"disableNameSuffixHash": True},
        "patches": [{"target": {"kind": "Job", "name": "sweeper-workers"}, "patch": yaml.safe_dump([
            {"op": "replace", "path": "/spec/parallelism", "value": worker_pods},
            {"op": "replace", "path": "/spec/completions", "value": worker_pods},
        ])}],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return parse(kustomize(folder))


@dataclass
class Pod:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        """The worker processes its supervisor started (from the supervisor's own log lines)."""
        return {int(pid) for pid in _CHILD_PID.findall(self.output())}

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


@dataclass
class Node:
    """Runs the rendered pods of ``docs`` with the Secret ``secrets`` and the task folders given."""

    docs: list[Doc]
    secrets: dict[str, dict[str, str]]
    root: Path
    task_dirs: dict[str, Path] = field(default_factory=dict)  # mount path -> host folder
    pods: list[Pod] = field(default_factory=list)

    def container(self, job: str) -> tuple[Doc, Doc]:
        """(pod spec, its only container) of Job ``job``."""
        spec = one(self.docs, "Job", job)["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        return spec, container

    def start(self, job: str, pod_name: str) -> Pod:
        spec, container = self.container(job)
        config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(self.docs, "ConfigMap")}
        env = kubelet.container_env(container, config_maps, self.secrets)
        argv = kubelet.container_argv(container, env)
        mounts = {**self.task_dirs, "/data/cache": self.root / pod_name / "cache"}
        env = kubelet.remap_paths(env, mounts)
        host = {k: v for k, v in os.environ.items() if not k.startswith("SWEEPER_") and k != "CUDA_VISIBLE_DEVICES"}
        path = os.pathsep.join([str(self._gpu_bin(spec, container)), sysconfig.get_path("scripts"), host.get("PATH", "")])
        log = self.root / f"{pod_name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            # Its own session, like a container: signals reach the process the kubelet would signal.
            process = subprocess.Popen(argv, env={**host, **IMAGE_ENV, **env, "PATH": path}, cwd=self.root,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        pod = Pod(pod_name, argv, process, log)
        self.pods.append(pod)
        return pod

    def _gpu_bin(self, spec: Doc, container: Doc) -> Path:
        """An `nvidia-smi -L` listing the GPUs the container's limit asks for, as NVIDIA's device
        plugin and container runtime show them inside the pod (numbered from 0)."""
        gpus = int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
        folder = self.root / f"gpu-bin-{gpus}"
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / "nvidia-smi"
        lines = "".join(f'echo "GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-rehearsal-{i})"\n' for i in range(gpus))
        script.write_text("#!/bin/sh\n" + (lines or "exit 9\n"))
        script.chmod(0o755)
        return folder

    def stop_all(self) -> None:
        """SIGKILL whatever is still running (a failed test must not leave processes behind); the
        supervisor's workers run in process groups of their own."""
        for pod in self.pods:
            for pid in pod.worker_pids():
                _kill(pid)
            if pod.process.poll() is None:
                _kill(-pod.process.pid)
                pod.process.wait(10)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
