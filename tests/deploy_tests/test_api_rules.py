"""What the API server or the kubelet would refuse and the JSON schemas let through, checked on
every rendered overlay: a podFailurePolicy needs restartPolicy Never (and no early replacement
pods), its exit-code rules must be well formed, extended resources are requested as much as
limited, selectors match the labels they select, and every Secret, ConfigMap, key, claim and
volume that a pod names exists (or is optional), and every $(VAR) in a command is defined."""

from __future__ import annotations

import pytest

from tests.deploy_tests import kubelet
from tests.deploy_tests.manifests import Doc, containers, db_secret, job_specs, of_kind, pod_templates, rendered

CORE_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_a_failure_policy_comes_with_restart_policy_never(overlay: str) -> None:
    docs = rendered(overlay)
    policies = 0
    for where, spec in job_specs(docs):
        if "podFailurePolicy" not in spec:
            continue
        policies += 1
        assert spec["template"]["spec"].get("restartPolicy") == "Never", where
        # Replacements of terminating pods are only allowed without a failure policy.
        assert spec.get("podReplacementPolicy", "Failed") == "Failed", where
    assert policies == 3  # launch, workers, report


def test_per_index_limits_are_where_the_api_allows_them(overlay: str) -> None:
    """backoffLimitPerIndex: only on an Indexed Job whose pods never restart in place;
    maxFailedIndexes only with it, and at most the completions."""
    for where, spec in job_specs(rendered(overlay)):
        if "backoffLimitPerIndex" in spec:
            assert spec.get("completionMode") == "Indexed", where
            assert spec["template"]["spec"].get("restartPolicy") == "Never", where
            assert spec["backoffLimitPerIndex"] >= 0, where
        if "maxFailedIndexes" in spec:
            assert "backoffLimitPerIndex" in spec and 0 <= spec["maxFailedIndexes"] <= spec["completions"], where


def test_failure_policy_rules_are_well_formed(overlay: str) -> None:
    for where, spec in job_specs(rendered(overlay)):
        names = {c["name"] for c in containers(spec["template"]["spec"])}
        rules = spec.get("podFailurePolicy", {}).get("rules", [])
        assert len(rules) <= 20, where
        for rule in rules:
            assert rule["action"] in ("FailJob", "FailIndex", "Ignore", "Count"), where
            assert ("onExitCodes" in rule) != ("onPodConditions" in rule), f"{where}: one requirement per rule"
            if rule["action"] == "FailIndex":
                assert "backoffLimitPerIndex" in spec, f"{where}: FailIndex needs backoffLimitPerIndex"
            codes = rule.get("onExitCodes")
            if codes is None:
                continue
            values = codes["values"]
            assert 1 <= len(values) <= 255 and values == sorted(set(values)), f"{where}: ordered, no duplicates"
            assert codes["operator"] in ("In", "NotIn"), where
            assert not (codes["operator"] == "In" and 0 in values), f"{where}: 0 cannot be used with In"
            name = codes.get("containerName")
            assert name is None or name in names, f"{where}: no container {name}"


def test_extended_resources_request_what_they_limit(overlay: str) -> None:
    checked = 0
    for where, template in pod_templates(rendered(overlay)):
        for container in containers(template["spec"]):
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            for name in {*requests, *limits} - set(CORE_RESOURCES):
                # Not overcommitted: a limit is required, and a request must equal it.
                assert name in limits, f"{where}: {name} requested without a limit"
                assert str(requests.get(name, limits[name])) == str(limits[name]), f"{where}: {name} request != limit"
                assert float(limits[name]).is_integer(), f"{where}: {name} must be whole"
                checked += 1
    assert checked >= 1  # the workers' GPU


def test_selectors_match_the_labels_they_select(overlay: str) -> None:
    docs = rendered(overlay)
    templates = dict(pod_templates(docs))
    pod_labels = [t["metadata"].get("labels", {}) for t in templates.values()]
    for doc in of_kind(docs, "Deployment", "StatefulSet"):
        selector = doc["spec"]["selector"]["matchLabels"]
        assert _labels_match(selector, doc["spec"]["template"]["metadata"]["labels"]), doc["metadata"]["name"]
    for service in of_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        assert selector and any(_labels_match(selector, labels) for labels in pod_labels), service["metadata"]["name"]
        # Named target ports exist on the selected pods.
        ports = {p["name"] for w, t in templates.items() if _labels_match(selector, t["metadata"].get("labels", {}))
                 for c in containers(t["spec"]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert isinstance(target, int) or target in ports, f"{service['metadata']['name']}: {target}"
    for doc in of_kind(docs, "StatefulSet"):
        governing = [s for s in of_kind(docs, "Service") if s["metadata"]["name"] == doc["spec"]["serviceName"]]
        assert governing and governing[0]["spec"].get("clusterIP") == "None", "a StatefulSet needs a headless Service"
    for where, template in templates.items():
        affinity = template["spec"].get("affinity", {}).get("podAffinity", {})
        for term in affinity.get("requiredDuringSchedulingIgnoredDuringExecution", []):
            wanted = term["labelSelector"]["matchLabels"]
            assert any(_labels_match(wanted, labels) for labels in pod_labels), f"{where}: affinity to no pod"


def test_everything_a_pod_names_exists(overlay: str) -> None:
    """Secrets (as db_secret.py makes them), ConfigMaps, their keys, claims and volumes."""
    docs = rendered(overlay)
    secret = db_secret(overlay)
    secrets = {secret["metadata"]["name"]: secret["stringData"]}
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    claims = {d["metadata"]["name"] for d in of_kind(docs, "PersistentVolumeClaim")}
    used_keys = set()
    for where, template in pod_templates(docs):
        spec = template["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        owner = next(d for d in docs if f"{d['kind']}/{d['metadata']['name']}" == where)
        claim_templates = {c["metadata"]["name"] for c in owner["spec"].get("volumeClaimTemplates", [])}
        for volume in volumes.values():
            used_keys |= {(volume["secret"]["secretName"], item["key"]) for item in volume.get("secret", {}).get("items", [])}
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, where
            for kind, store in (("configMap", config_maps), ("secret", secrets)):
                if kind in volume:
                    ref = volume[kind]
                    name = ref.get("name") or ref.get("secretName")
                    assert name in store or ref.get("optional", False), f"{where}: {kind} {name}"
        for container in containers(spec):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in claim_templates, f"{where}: volume {mount['name']}"
            # Raises KeyError for anything missing that is not optional, as the kubelet refuses it.
            env = kubelet.container_env(container, config_maps, secrets)
            used_keys |= {(i["valueFrom"]["secretKeyRef"]["name"], i["valueFrom"]["secretKeyRef"]["key"])
                          for i in container.get("env", []) if "secretKeyRef" in i.get("valueFrom", {})}
            for arg in [*container.get("command", []), *container.get("args", [])]:
                assert not kubelet.unexpanded(arg, env), f"{where}: {arg} stays unexpanded"
    # Each key db_secret.py makes is used, so the two cannot drift apart silently.
    assert used_keys == {(secret["metadata"]["name"], key) for key in secrets[secret["metadata"]["name"]]}


def test_a_missing_secret_key_is_caught() -> None:
    """The check above can fail: a pod naming a key the Secret lacks is refused."""
    docs = rendered("prod")
    template = dict(pod_templates(docs))["Job/sweeper-workers"]
    container: Doc = template["spec"]["containers"][0]
    config_maps = {d["metadata"]["name"]: d["data"] for d in of_kind(docs, "ConfigMap")}
    secrets = {"sweeper-db": db_secret("prod")["stringData"]}
    kubelet.container_env(template["spec"]["containers"][0], config_maps, secrets)  # as rendered: fine
    container["env"].append({"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "sweeper-db", "key": "password"}}})
    with pytest.raises(KeyError, match="sweeper-db/password"):
        kubelet.container_env(container, config_maps, secrets)
