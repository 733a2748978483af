#!/usr/bin/env python3
"""Checks a Grafana dashboard against the gateway: the JSON parses, every metric an expression
names is one the gateway's source registers (`counter!`, `gauge!`, `histogram!` in src/), and every
expression is written out as a recording rule so that `promtool check rules` parses it.

usage: check-dashboard.py DASHBOARD.json SRC_DIR RULES_OUT.yml
Prints the number of expressions written; exits non-zero with the reasons otherwise.
"""

import json
import pathlib
import re
import sys

dashboard, src, rules_out = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]

# The metrics the gateway registers; a histogram is exported as _bucket, _sum and _count series.
registered = re.compile(r'\b(counter|gauge|histogram)!\(\s*"(scimgate_[a-z0-9_]+)"', re.S)
known = set()
for path in src.rglob("*.rs"):
    for kind, name in registered.findall(path.read_text()):
        known.add(name)
        if kind == "histogram":
            known |= {name + "_bucket", name + "_sum", name + "_count"}
if not known:
    sys.exit(f"no metric registrations found under {src}")

with open(dashboard) as f:
    board = json.load(f)


def walk(panels):
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


exprs = []
for panel in walk(board.get("panels", [])):
    for target in panel.get("targets", []):
        if target.get("expr"):
            exprs.append((f"panel {panel.get('title', '?')!r}", target["expr"]))
for var in board.get("templating", {}).get("list", []):
    query = var.get("query")
    query = query.get("query") if isinstance(query, dict) else query
    if var.get("type") == "query" and query:
        # label_values(SELECTOR, label) is Grafana's, not PromQL: check the selector.
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip(), re.S)
        exprs.append((f"variable {var.get('name')!r}", m.group(1) if m else query))
if not exprs:
    sys.exit(f"{dashboard}: no expressions")

# Grafana's variables take values PromQL accepts. `$1` and `${1}` are label_replace's group
# references: Grafana leaves them alone (no variable has that name), and so does this check.
values = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "instance": ".*"}
variable = re.compile(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)")
problems = []
with open(rules_out, "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (where, expr) in enumerate(exprs):
        text = variable.sub(lambda m: values.get(m[1] or m[2], m[0]), expr)
        if variable.search(text):
            problems.append(f"{where}: a variable this check does not know: {expr}")
        for name in sorted(set(re.findall(r"\bscimgate_[a-z0-9_]+", text))):
            if name not in known:
                problems.append(f"{where}: {name} is not a metric the gateway exports")
        out.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(text)}\n")
if problems:
    sys.exit(f"{dashboard}:\n  " + "\n  ".join(problems))
print(len(exprs))
