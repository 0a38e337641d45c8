"""The figures of scripts/bench-dashboard (see there). Medians of several runs, each
beside its baseline from the same run."""

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e", "browser"))
from dashboard import browser  # noqa: E402

profile, rkube, kubectl_bin, kubeconfig = sys.argv[1:5]
NS = "bench-dashboard"
PODS = int(os.environ.get("BENCH_PODS", "100"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
env = dict(os.environ, KUBECONFIG=kubeconfig)


def kubectl(*args, check=True, stdin=None):
    r = subprocess.run([kubectl_bin, "--context", profile, *args], capture_output=True, text=True,
                       env=env, input=stdin, timeout=300)
    if check and r.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)}: {r.stderr}")
    return r.stdout


def first_line(cmd, match):
    """Seconds from spawning cmd to a stdout line starting with `match`; the process, kept."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in p.stdout:
        if line.startswith(match):
            return time.perf_counter() - start, line.strip(), p
    sys.exit(f"{cmd[0]} ended without printing {match!r}")


def dashboard():
    return first_line([rkube, "dashboard", "--url", "-p", profile], "http://")


def median_ms(xs):
    return f"{statistics.median(xs) * 1000:.0f} ms"


# The addon on (built once), then the command on a running cluster.
_, _, p = dashboard()
p.kill()
ours, theirs = [], []
for _ in range(RUNS):
    t, _, p = dashboard()
    p.kill(); p.wait()
    ours.append(t)
    t, _, p = first_line([kubectl_bin, "--context", profile, "proxy", "--port=0"], "Starting to serve")
    p.kill(); p.wait()
    theirs.append(t)
print(f"{'dashboard: command → URL printed':44} {median_ms(ours):>10}   (kubectl proxy → serving: {median_ms(theirs)})")

# 100 pods, then the overview's first load until it shows them all.
kubectl("create", "namespace", NS, check=False)
try:
    kubectl("-n", NS, "create", "deployment", "many", "--image=rkube-test/busybox:1", f"--replicas={PODS}",
            "--", "sleep", "3600", check=False)
    deadline = time.time() + 600
    while time.time() < deadline:
        phases = kubectl("-n", NS, "get", "pods", "-o", "jsonpath={.items[*].status.phase}").split()
        if phases.count("Running") >= PODS:
            break
        time.sleep(2)
    else:
        sys.exit(f"{PODS} pods did not run within 10 minutes")
    get = []
    for _ in range(RUNS):
        t = time.perf_counter()
        kubectl("-n", NS, "get", "pods")
        get.append(time.perf_counter() - t)

    _, url, proxy = dashboard()
    d = browser()
    try:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        # Before any script of the page: the namespace, and a clock for the rows.
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": f"""
            localStorage.setItem('rkube.ns', '{NS}');
            new MutationObserver((_, obs) => {{
              if (document.querySelectorAll('table.pods tr[data-name]').length >= {PODS}) {{
                window.__shown = performance.now(); obs.disconnect();
              }}
            }}).observe(document, {{childList: true, subtree: true}});"""})
        loads, assets, api = [], 0, 0
        for _ in range(RUNS):
            d.get("about:blank")
            d.get(url)
            deadline = time.time() + 30
            shown = None
            while time.time() < deadline and shown is None:
                shown = d.execute_script("return window.__shown")
                time.sleep(0.02)
            if shown is None:
                sys.exit("the overview did not show the pods within 30 s")
            loads.append(shown / 1000)
            entries = d.execute_script(
                "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
                ".map(e => [e.name, e.transferSize || e.encodedBodySize || 0])")
            assets = sum(n for name, n in entries if "/proxy/" in name)
            api = sum(n for name, n in entries if "/proxy/" not in name)
    finally:
        d.quit()
        proxy.kill()
    print(f"{'dashboard: first load, overview of ' + str(PODS) + ' pods':44} {median_ms(loads):>10}   (kubectl get pods: {median_ms(get)}; goal ≤ 300 ms)")
    print(f"{'dashboard: bytes on first load':44} {assets / 1024:>7.1f} KiB   page, + {api / 1024:.1f} KiB of API answers")
finally:
    kubectl("delete", "namespace", NS, "--wait=false", check=False)

mem = subprocess.run(["docker", "ps", "--filter", "name=k8s_kubernetes-dashboard_", "--format", "{{.ID}}"],
                     capture_output=True, text=True).stdout.split()
if mem:
    usage = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", mem[0]],
                           capture_output=True, text=True).stdout.strip()
    print(f"{'dashboard: pod memory':44} {usage.split(' / ')[0]:>10}")
