#!/usr/bin/env python3
"""Sorts a `helm template` render for .ci/check-helm and checks what kubernetes-validate cannot.

    check-helm-rendered.py RENDER.yaml OUT_DIR CANONICAL_ALERTS.yml

Writes OUT_DIR/core.yaml (the objects Kubernetes itself defines, for kubernetes-validate) and, when
the render holds a PrometheusRule, OUT_DIR/rules.yml (its spec, for promtool check rules). Checks
the custom resources (ServiceMonitor, PrometheusRule) structurally, that the PrometheusRule carries
exactly the canonical alert rules, and the chart's own invariants: non-root read-only containers,
a termination grace period that covers SCIMGATE_SHUTDOWN_DELAY + SCIMGATE_SHUTDOWN_GRACE, and a
Deployment selector that does not pick the migration Job's pods. Exits 1 naming every problem.
"""

import os
import re
import sys

import yaml

CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

problems = []


def problem(obj, message):
    meta = obj.get("metadata") or {}
    problems.append(f"{obj.get('kind')}/{meta.get('name')}: {message}")


def only_keys(obj, where, mapping, allowed):
    if not isinstance(mapping, dict):
        problem(obj, f"{where} is not a mapping")
        return False
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        problem(obj, f"{where} has unknown fields {unknown}")
    return True


def check_service_monitor(obj):
    spec = obj.get("spec")
    if not only_keys(obj, "spec", spec, {"selector", "namespaceSelector", "endpoints", "jobLabel"}):
        return
    if not (spec.get("selector") or {}).get("matchLabels"):
        problem(obj, "spec.selector.matchLabels is missing")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problem(obj, "spec.endpoints is missing or empty")
        return
    for n, endpoint in enumerate(endpoints):
        where = f"spec.endpoints[{n}]"
        if not only_keys(obj, where, endpoint, {"port", "path", "interval", "scrapeTimeout", "scheme"}):
            continue
        if not isinstance(endpoint.get("port"), str) or not endpoint["port"]:
            problem(obj, f"{where}.port must name a Service port")
        for field in ("interval", "scrapeTimeout"):
            if field in endpoint and not re.fullmatch(r"([0-9]+(ms|s|m|h))+", str(endpoint[field])):
                problem(obj, f"{where}.{field} is not a Prometheus duration: {endpoint[field]!r}")


def check_prometheus_rule(obj, canonical, out_dir):
    spec = obj.get("spec")
    if not only_keys(obj, "spec", spec, {"groups"}):
        return
    groups = spec.get("groups")
    if not isinstance(groups, list) or not groups:
        problem(obj, "spec.groups is missing or empty")
        return
    for g, group in enumerate(groups):
        if not only_keys(obj, f"spec.groups[{g}]", group, {"name", "interval", "rules"}):
            continue
        if not group.get("name"):
            problem(obj, f"spec.groups[{g}].name is missing")
        for r, rule in enumerate(group.get("rules") or []):
            where = f"spec.groups[{g}].rules[{r}]"
            allowed = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}
            if not only_keys(obj, where, rule, allowed):
                continue
            if bool(rule.get("alert")) == bool(rule.get("record")):
                problem(obj, f"{where} needs exactly one of alert and record")
            if not rule.get("expr"):
                problem(obj, f"{where}.expr is missing")
    if groups != canonical.get("groups"):
        problem(obj, "spec.groups differ from deploy/prometheus/alerts.yml")
    with open(os.path.join(out_dir, "rules.yml"), "w") as out:
        yaml.safe_dump({"groups": groups}, out, sort_keys=False)


def env_seconds(env, name):
    for var in env:
        if var.get("name") == name:
            match = re.fullmatch(r"([0-9]+)s?", str(var.get("value", "")))
            if not match:
                raise ValueError(f"{name}={var.get('value')!r} is not whole seconds")
            return int(match.group(1))
    return None


def check_pod(obj, pod_spec, job_pod_labels):
    containers = pod_spec.get("containers") or []
    if pod_spec.get("automountServiceAccountToken") is not False:
        problem(obj, "automountServiceAccountToken is not false")
    if not (pod_spec.get("securityContext") or {}).get("runAsNonRoot"):
        problem(obj, "the pod does not require runAsNonRoot")
    for container in containers:
        sc = container.get("securityContext") or {}
        wanted = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "runAsNonRoot": True}
        for field, value in wanted.items():
            if sc.get(field) is not value:
                problem(obj, f"container {container.get('name')}: securityContext.{field} is not {value}")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            problem(obj, f"container {container.get('name')}: capabilities are not all dropped")
    if obj["kind"] != "Deployment":
        return
    env = containers[0].get("env") or []
    try:
        delay = env_seconds(env, "SCIMGATE_SHUTDOWN_DELAY") or 0
        grace = env_seconds(env, "SCIMGATE_SHUTDOWN_GRACE")
        grace = 25 if grace is None else grace
    except ValueError as error:
        problem(obj, str(error))
        return
    period = pod_spec.get("terminationGracePeriodSeconds", 30)
    if period <= delay + grace:
        problem(obj, f"terminationGracePeriodSeconds {period} does not exceed delay {delay} + grace {grace}")
    selector = obj["spec"]["selector"]["matchLabels"]
    for labels in job_pod_labels:
        if all(labels.get(k) == v for k, v in selector.items()):
            problem(obj, "the Deployment's selector also picks the migration Job's pods")


def main():
    render, out_dir, canonical_path = sys.argv[1:4]
    with open(canonical_path) as f:
        canonical = yaml.safe_load(f)
    with open(render) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    core = [o for o in objects if (o.get("apiVersion"), o.get("kind")) not in CUSTOM]
    custom = [o for o in objects if (o.get("apiVersion"), o.get("kind")) in CUSTOM]
    for obj in objects:
        if not (obj.get("metadata") or {}).get("name"):
            problem(obj, "metadata.name is missing")
        if "monitoring.coreos.com" in str(obj.get("apiVersion")) and obj not in custom:
            problem(obj, "a custom resource this check does not know")
    jobs = [o for o in core if o["kind"] == "Job"]
    job_pod_labels = [j["spec"]["template"]["metadata"].get("labels") or {} for j in jobs]
    for obj in core:
        if obj["kind"] in ("Deployment", "Job"):
            check_pod(obj, obj["spec"]["template"]["spec"], job_pod_labels)
    for obj in custom:
        if obj["kind"] == "ServiceMonitor":
            check_service_monitor(obj)
        else:
            check_prometheus_rule(obj, canonical, out_dir)
    with open(os.path.join(out_dir, "core.yaml"), "w") as out:
        yaml.safe_dump_all(core, out, sort_keys=False)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    kinds = sorted({o["kind"] for o in custom})
    print(f"{len(core)} core objects, custom: {', '.join(kinds) or 'none'}")


if __name__ == "__main__":
    main()
