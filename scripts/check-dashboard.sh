#!/usr/bin/env bash
# Checks that every PromQL expression in the Grafana dashboard parses and uses
# only metric names the README's Metrics table lists, by handing them to `promtool check rules`.
set -euo pipefail
cd "$(dirname "$0")/.."
dashboard=examples/grafana/mapctl-dashboard.json
rules=$(mktemp --suffix=.yaml)
trap 'rm -f "$rules"' EXIT
python3 - "$dashboard" "$rules" <<'PY'
import json, re, sys
dashboard, out = sys.argv[1], sys.argv[2]
known = {"mapctl_map_ops_total", "mapctl_map_op_duration_seconds_bucket", "mapctl_map_entries", "mapctl_map_bytes",
         "mapctl_map_contention_total", "mapctl_map_faults_total", "mapctl_map_evictions_total", "mapctl_map_info",
         "mapctl_rollout_checks_total", "mapctl_rollbacks_total", "mapctl_reconcile_total", "mapctl_breaker_state",
         "mapctl_schema_invalid", "mapctl_fleet_leader", "mapctl_fleet_replicas"}
exprs = [t["expr"] for p in json.load(open(dashboard))["panels"] for t in p.get("targets", [])]
with open(out, "w") as f:
    f.write("groups:\n- name: dashboard\n  rules:\n")
    for i, e in enumerate(exprs):
        for name in re.findall(r"\bmapctl_[a-z_]+", e):
            if name not in known:
                sys.exit(f"unknown metric {name} in: {e}")
        e = e.replace("$__rate_interval", "5m").replace("$map", ".*")
        f.write(f"  - record: dashboard:expr{i}\n    expr: {json.dumps(e)}\n")
print(f"{len(exprs)} expressions")
PY
promtool check rules "$rules"
