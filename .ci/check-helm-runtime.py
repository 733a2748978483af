#!/usr/bin/env python3
"""Starts the real scimgate binary as a rendered chart would run it, without a cluster.

    check-helm-runtime.py RENDER.yaml DATABASE_URL SCIMGATE_BINARY

Takes the migration Job's and the Deployment's container environment and mounted files from a
`helm template` render, moves /etc/scimgate under a temporary directory, the listeners to loopback
ports, and the database URL to DATABASE_URL (PostgreSQL). Then: the Job's `migrate` succeeds;
`serve` gets ready; /metrics answers on the metrics listener only; the NOTES' `org create` and
`token generate`, run with the pod's environment, give a token that lists /Users; after SIGTERM
/readyz answers 503 while requests are still served, and the process exits 0 within the pod's
terminationGracePeriodSeconds. Prints one line; exits 1 on the first problem.
"""

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, headers=None):
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, str(error)


def main():
    render, database_url, binary = sys.argv[1:4]
    binary = os.path.abspath(binary)
    objects = [o for o in yaml.safe_load_all(open(render)) if o]
    of_kind = lambda kind: [o for o in objects if o["kind"] == kind]  # noqa: E731
    root = tempfile.mkdtemp(prefix="scimgate-helm-")
    server = None
    try:
        def place(path, text):
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "w") as f:
                f.write(text)

        pod = of_kind("Deployment")[0]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        # The Secret's files: the chart's own, or made up for an existingSecret; the URL is ours.
        files = {}
        for secret in of_kind("Secret"):
            for key, value in (secret.get("data") or {}).items():
                files[key] = base64.b64decode(value).decode()
        for var in container["env"]:
            if str(var.get("value", "")).startswith("/etc/scimgate/secrets/"):
                key = var["value"].rsplit("/", 1)[1]
                files.setdefault(key, f"made-up {key} of at least thirty-two bytes")
        files["database-url"] = database_url
        for key, value in files.items():
            place(f"/etc/scimgate/secrets/{key}", value + "\n")
        for config_map in of_kind("ConfigMap"):
            for key, value in config_map["data"].items():
                place(f"/etc/scimgate/keys/{key}", value)

        def env_of(c, **override):
            env = {"PATH": "/usr/bin:/bin"}
            for var in c.get("env", []):
                if "value" in var:
                    env[var["name"]] = str(var["value"]).replace("/etc/scimgate/", root + "/etc/scimgate/")
            env.update(override)
            return env

        job = of_kind("Job")[0]["spec"]["template"]["spec"]["containers"][0]
        run = subprocess.run([binary] + job["args"], env=env_of(job), capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"the migration Job's command failed: {run.stderr.strip()[-400:]}")

        main_addr = f"127.0.0.1:{free_port()}"
        metrics_addr = f"127.0.0.1:{free_port()}"
        env = env_of(container, SCIMGATE_LISTEN=main_addr, SCIMGATE_METRICS_LISTEN=metrics_addr)
        log = open(os.path.join(root, "serve.log"), "w")
        server = subprocess.Popen([binary] + container["args"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while get(f"http://{main_addr}/readyz")[0] != 200:
            if server.poll() is not None or time.time() > deadline:
                sys.exit("serve did not get ready: " + open(os.path.join(root, "serve.log")).read()[-600:])
            time.sleep(0.2)
        status, body = get(f"http://{metrics_addr}/metrics")
        if status != 200 or "scimgate_" not in body:
            sys.exit(f"/metrics on the metrics listener answered {status}")
        if get(f"http://{main_addr}/metrics")[0] != 404:
            sys.exit("/metrics is served on the listener the IdPs reach")
        if get(f"http://{metrics_addr}/readyz")[0] != 200:
            sys.exit("/readyz is not served on the metrics listener")

        cli = env_of(container)
        org = subprocess.run([binary, "org", "create", f"helm-check-{os.getpid()}-{time.time_ns()}"],
                             env=cli, capture_output=True, text=True)
        org_id = org.stdout.strip()
        token = subprocess.run([binary, "token", "generate", org_id], env=cli, capture_output=True, text=True)
        if org.returncode != 0 or token.returncode != 0 or not token.stdout.strip():
            sys.exit(f"org create / token generate failed: {org.stderr[-300:]} {token.stderr[-300:]}")
        status, _ = get(f"http://{main_addr}/api/orgs/{org_id}/scim/v2/Users",
                        {"Authorization": "Bearer " + token.stdout.strip()})
        if status != 200:
            sys.exit(f"GET /Users with the minted token answered {status}")

        started = time.time()
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        ready, alive = get(f"http://{main_addr}/readyz")[0], get(f"http://{main_addr}/healthz")[0]
        if ready != 503 or alive != 200:
            sys.exit(f"right after SIGTERM /readyz answered {ready} and /healthz {alive} (want 503, 200)")
        period = pod.get("terminationGracePeriodSeconds", 30)
        try:
            code = server.wait(timeout=period)
        except subprocess.TimeoutExpired:
            sys.exit(f"still running {period}s after SIGTERM (terminationGracePeriodSeconds)")
        if code != 0:
            sys.exit(f"exited {code} after SIGTERM")
        print(f"migrate, serve, metrics listener, org/token, SIGTERM: 503 at once, "
              f"exit 0 after {time.time() - started:.1f}s of {period}s")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
