#!/usr/bin/env python3
"""Plots of the load benchmark's figures (target/bench/load-results.json) into benches/plots/.

Run with the venv the benchmark installs matplotlib into:
    target/bench/venv/bin/python benches/plot_load.py [results.json] [out-dir]
"""

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def catalog_p99(backend):
    """{operation kind: [(rows, p99 ms)]} from the catalog-scale cases."""
    series = {}
    for case in backend["cases"]:
        rows = case["notes"].get("rows")
        if rows is None:
            continue
        for f in case["figures"]:
            kind = re.sub(r" at \d+ rows$", "", f["operation"])
            series.setdefault(kind, []).append((rows, f["p99_ms"]))
    return series


def plot_catalog(doc, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in doc["backends"]:
        for kind, points in sorted(catalog_p99(backend).items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label=f'{backend["backend"]}: {kind}')
    ax.set_xscale("log")
    ax.set_xlabel("catalog rows (over 1,000 organizations)")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title("p99 against catalog size (8 keep-alive clients)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "p99-vs-catalog-size.png", dpi=120)
    plt.close(fig)


def plot_group_size(doc, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in doc["backends"]:
        series = {}
        for case in backend["cases"]:
            if not case["name"].startswith("Group size"):
                continue
            for f in case["figures"]:
                m = re.match(r"(.*), (\d+) members$", f["operation"])
                if m:
                    series.setdefault(m.group(1), []).append((int(m.group(2)), f["p99_ms"]))
        for kind, points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label=f'{backend["backend"]}: {kind}')
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("members in the group")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title("p99 against group size (8 clients on one group)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "p99-vs-group-size.png", dpi=120)
    plt.close(fig)


def plot_floor(doc, out):
    backends = doc["backends"]
    fig, axes = plt.subplots(1, len(backends), figsize=(6.5 * len(backends), 4.8), squeeze=False)
    for ax, backend in zip(axes[0], backends):
        floors = {f["operation"]: f for c in backend["cases"] if c["name"].startswith("Floor") for f in c["figures"]}
        ops = [f for c in backend["cases"] for f in c["figures"] if f.get("floor_ratio") is not None]
        labels = [f["operation"].replace("GET /Groups", "GET").replace("?excludedAttributes=members", "\n(no members)")
                  .replace("?filter=displayName eq (hit)", " filter\ndisplayName eq") for f in ops]
        http = [f["per_second"] for f in ops]
        floor = [f["per_second"] / f["floor_ratio"] for f in ops]
        x = range(len(ops))
        ax.bar([i - 0.2 for i in x], floor, width=0.4, label="floor (same SQL, no HTTP)", color="#bbbbbb")
        ax.bar([i + 0.2 for i in x], http, width=0.4, label="over HTTP", color="#3b75af")
        for i, f in enumerate(ops):
            ax.annotate(f'{f["floor_ratio"]:.2f}×', (i + 0.2, http[i]), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("requests per second")
        ax.set_title(f'{backend["backend"]}: throughput against the floor ({len(floors)} floor cases)')
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "throughput-vs-floor.png", dpi=120)
    plt.close(fig)


def plot_memory(doc, out):
    fig, ax = plt.subplots(figsize=(6, 4))
    for backend in doc["backends"]:
        points = sorted((c["notes"]["rows"], c["notes"]["rss_mib_after"])
                        for c in backend["cases"] if "rss_mib_after" in c["notes"])
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=backend["backend"])
    ax.set_xscale("log")
    ax.set_xlabel("catalog rows")
    ax.set_ylabel("server VmRSS after the cases (MiB)")
    ax.set_title("Resident memory against catalog size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rss-vs-catalog-size.png", dpi=120)
    plt.close(fig)


def main():
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/bench/load-results.json"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "benches/plots"
    out.mkdir(parents=True, exist_ok=True)
    doc = json.loads(results.read_text())
    plot_catalog(doc, out)
    plot_group_size(doc, out)
    plot_floor(doc, out)
    plot_memory(doc, out)
    print(f"plots written to {out}")


if __name__ == "__main__":
    main()
