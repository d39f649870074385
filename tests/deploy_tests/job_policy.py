"""What the Job controller does with a failed pod under a Job's podFailurePolicy, after the API
reference of PodFailurePolicyRule: the first rule that matches decides; none matching means
Count (the failure counts against backoffLimit, or its index's backoffLimitPerIndex). Exit code 0
is never a failure. And what counted failures do to the Job, after the JobSpec reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Outcome:
    job_failed: bool  # the Job is terminated: every running pod is stopped
    failed_indexes: frozenset[int]  # indexes that get no more pods (backoffLimitPerIndex)


def after_counted_failures(job_spec: Doc, indexes: Sequence[int]) -> Outcome:
    """The Job after pods of the given ``indexes`` failed, each failure counted (one entry per
    failed pod). backoffLimit counts all of them (default 6, unlimited when backoffLimitPerIndex
    is set); backoffLimitPerIndex fails an index after that many retries of it, and
    maxFailedIndexes (optional) fails the Job when more indexes than that have failed."""
    per_index = job_spec.get("backoffLimitPerIndex")
    job_limit = job_spec.get("backoffLimit", 2**31 - 1 if per_index is not None else 6)
    counts: dict[int, int] = {}
    for index in indexes:
        counts[index] = counts.get(index, 0) + 1
    failed = frozenset(i for i, n in counts.items() if per_index is not None and n > per_index)
    too_many_indexes = "maxFailedIndexes" in job_spec and len(failed) > job_spec["maxFailedIndexes"]
    return Outcome(job_failed=len(indexes) > job_limit or too_many_indexes, failed_indexes=failed)
