"""What the Job controller does with a failed pod under a Job's podFailurePolicy, after the API
reference of PodFailurePolicyRule: the first rule that matches decides; none matching means
Count (the failure counts against backoffLimit). Exit code 0 is never a failure."""

from __future__ import annotations

from collections.abc import Mapping

from tests.deploy_tests.manifests import Doc


def _exit_codes_match(requirement: Doc, exit_codes: Mapping[str, int]) -> bool:
    name = requirement.get("containerName")
    codes = [c for container, c in exit_codes.items() if c != 0 and (name is None or container == name)]
    values = set(requirement["values"])
    if requirement["operator"] == "In":
        return any(c in values for c in codes)
    if requirement["operator"] == "NotIn":
        return any(c not in values for c in codes)
    return False  # an unknown operator is not satisfied


def _conditions_match(patterns: list[Doc], conditions: Mapping[str, str]) -> bool:
    return any(conditions.get(p["type"]) == p.get("status", "True") for p in patterns)


def failed_pod_action(job_spec: Doc, exit_codes: Mapping[str, int], conditions: Mapping[str, str] | None = None) -> str:
    """FailJob, FailIndex, Ignore or Count for a pod whose containers ended with ``exit_codes``
    (container name -> code) and that carries ``conditions`` (type -> status)."""
    conditions = conditions or {}
    for rule in job_spec.get("podFailurePolicy", {}).get("rules", []):
        if "onExitCodes" in rule and _exit_codes_match(rule["onExitCodes"], exit_codes):
            return rule["action"]
        if "onPodConditions" in rule and _conditions_match(rule["onPodConditions"], conditions):
            return rule["action"]
    return "Count"
