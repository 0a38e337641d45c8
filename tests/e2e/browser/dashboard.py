"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, through
Selenium) and Firefox (Debian's firefox-esr, through its Marionette protocol), against a
cluster on Docker; kubectl checks what the page did.

Run by tests/e2e/dashboard.rs:
  dashboard.py full URL KUBECTL KUBECONFIG CONTEXT IMAGE SCREENSHOT_DIR
  dashboard.py smoke URL            (the page loads and lists the cluster's pods)
  dashboard.py firefox URL          (the same in Firefox)
Exits non-zero with the failing step on stderr.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,900", "--force-prefers-reduced-motion"):
        o.add_argument(a)
    o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=o)


class Steps:
    def __init__(self, driver, kubectl=None, kubeconfig=None, context=None):
        self.d = driver
        self.kubectl_cmd = [kubectl, "--kubeconfig", kubeconfig, "--context", context] if kubectl else None

    def kubectl(self, *args, check=True):
        r = subprocess.run(self.kubectl_cmd + list(args), capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr}")
        return r.stdout.strip()

    def wait(self, what, fn, timeout=60):
        last = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except WebDriverException as e:  # includes a stale element, redrawn by a live update
                last = e
            except AssertionError as e:
                last = e
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what} (last: {last})\npage: {self.text()[:2000]}")

    def text(self, css="#main"):
        try:
            return self.d.find_element(By.CSS_SELECTOR, css).text
        except WebDriverException:
            return ""

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def go(self, fragment):
        self.d.execute_script("location.hash = arguments[0]", fragment)

    def click(self, css):
        """Click, again if a live update redrew the element in between."""
        def attempt():
            e = self.find(css)
            if not (e.is_displayed() and e.is_enabled()):
                return False
            e.click()
            return True
        self.wait(f"{css} clicked", attempt)


PERFORMANCE_EVENTS = []


def websocket_watches(d):
    """How many watches the page opened as WebSockets that the server accepted (101).
    Reading the performance log drains it, so what was read is kept for the next call."""
    PERFORMANCE_EVENTS.extend(json.loads(entry["message"])["message"] for entry in d.get_log("performance"))
    events = PERFORMANCE_EVENTS
    watches = {m["params"]["requestId"] for m in events
               if m["method"] == "Network.webSocketCreated" and "watch=1" in m["params"]["url"]}
    return sum(1 for m in events if m["method"] == "Network.webSocketHandshakeResponseReceived"
               and m["params"]["requestId"] in watches and m["params"]["response"]["status"] == 101)


def smoke(url):
    d = browser()
    try:
        s = Steps(d)
        d.get(url)
        s.wait("the overview", lambda: "Overview" in s.text() and s.d.find_elements(By.CSS_SELECTOR, "table.pods tr[data-name]"))
        s.go("#/r/core/v1/namespaces")
        s.wait("the namespaces list", lambda: s.d.find_elements(By.CSS_SELECTOR, 'tr[data-name="kube-system"]'))
        s.wait("a watch over WebSocket", lambda: websocket_watches(d) > 0, timeout=20)
        print("smoke: overview and namespaces list shown, watches over WebSocket")
    finally:
        d.quit()


def full(url, kubectl, kubeconfig, context, image, shots):
    os.makedirs(shots, exist_ok=True)
    d = browser()
    s = Steps(d, kubectl, kubeconfig, context)
    started = time.time()
    try:
        d.get(url)
        s.wait("the overview", lambda: "Overview" in s.text())
        # The lists come first and their watches open after them.
        s.wait("a watch over WebSocket", lambda: websocket_watches(d) > 0, timeout=20)
        # A pod that cannot start, so the overview has something to explain.
        s.kubectl("create", "deployment", "dash-broken", "--image=rkube-test/not-built:1")

        # A deployment made with kubectl appears in the open list without a reload.
        s.go("#/r/apps/v1/deployments")
        s.wait("the deployments list", lambda: "Deployment" in s.text())
        marker = d.execute_script("window.rkubeNoReload = 1; return window.rkubeNoReload")
        s.kubectl("create", "deployment", "dash-web", f"--image={image}", "--",
                  "sh", "-c", "echo hello from dash-web; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done")
        s.wait("dash-web in the list", lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-name="dash-web"]'))
        assert d.execute_script("return window.rkubeNoReload") == marker, "the page reloaded"
        print(f"list: dash-web appeared live after {time.time() - started:.1f}s")

        # Scale it; kubectl agrees.
        s.click('tr[data-name="dash-web"] a')
        s.wait("the deployment page", lambda: d.find_elements(By.ID, "replicas"))
        box = s.find("#replicas")
        box.clear()
        box.send_keys("2")
        s.click("#scale")
        s.wait("kubectl to see 2 replicas",
               lambda: s.kubectl("get", "deployment", "dash-web", "-o", "jsonpath={.spec.replicas}") == "2")
        s.wait("2 ready replicas on the page", lambda: "2 ready" in s.text(), timeout=90)
        print("scale: spec.replicas=2 per kubectl, 2 ready shown")

        # The overview lists the failing pod first, with a reason.
        s.go("#/")
        s.wait("the failing pod explained", lambda: "not in the node's Docker" in s.text("#problems"), timeout=90)
        d.save_screenshot(os.path.join(shots, "dashboard-overview.png"))

        # Logs of one of its pods.
        pod = s.kubectl("get", "pods", "-l", "app=dash-web", "-o", "jsonpath={.items[0].metadata.name}")
        s.go(f"#/logs/default/{pod}")
        s.wait("the log lines", lambda: "hello from dash-web" in s.text("#log"), timeout=60)
        s.wait("followed lines", lambda: "tick 3" in s.text("#log"), timeout=30)
        s.find("#log-search").send_keys("tick 2")
        s.wait("the search", lambda: "tick 2" in s.text("#log") and "hello" not in s.text("#log"))
        d.execute_script("const q = document.querySelector('#log-search'); q.value = '';"
                         "q.dispatchEvent(new Event('input'));")
        s.wait("the whole log again", lambda: "hello from dash-web" in s.text("#log"))
        d.save_screenshot(os.path.join(shots, "dashboard-logs.png"))
        print("logs: first line and followed lines shown, search filters")

        # A shell in the terminal: `echo hi` prints hi.
        s.go(f"#/exec/default/{pod}")
        s.wait("the terminal to connect", lambda: s.text("#exec-status") == "Connected", timeout=30)
        time.sleep(0.5)
        d.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("echo hi\n")

        def output_lines():
            return d.execute_script(
                "const t = window.rkubeTerminal; const b = t.buffer.active || t.buffer; const out = [];"
                "for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));"
                "return out;")
        s.wait("hi printed by the shell", lambda: "hi" in [l.strip() for l in output_lines()], timeout=20)
        d.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("printf '\\033[32mgreen\\033[0m %s\\n' $((6*7))\n")
        s.wait("coloured output", lambda: any(l.strip() == "green 42" for l in output_lines()), timeout=20)
        d.save_screenshot(os.path.join(shots, "dashboard-terminal.png"))
        print("exec: `echo hi` printed hi in the terminal")

        # Edit YAML; someone else's change in between is a conflict, then a clean save.
        s.go("#/o/apps/v1/deployments/default/dash-web")
        s.click("#tab-yaml")
        s.wait("the YAML", lambda: "kind: Deployment" in s.find("#yaml").get_attribute("value"))
        s.kubectl("label", "deployment", "dash-web", "touched=by-kubectl")
        area = s.find("#yaml")
        text = area.get_attribute("value")
        assert "replicas: 2" in text, text
        d.execute_script("arguments[0].value = arguments[1]", area, text.replace("replicas: 2", "replicas: 1", 1))
        s.click("#save")
        s.wait("the conflict message", lambda: "Conflict" in s.text("#yaml-msg"))
        print(f"edit: conflict shown: {s.text('#yaml-msg')[:120]}")
        s.click("#reload")
        s.wait("the reloaded YAML", lambda: "touched: by-kubectl" in s.find("#yaml").get_attribute("value"))
        area = s.find("#yaml")
        d.execute_script("arguments[0].value = arguments[0].value.replace('replicas: 2', 'replicas: 1')", area)
        s.click("#save")
        s.wait("saved", lambda: "Saved" in s.text("#yaml-msg"))
        s.wait("kubectl to see 1 replica",
               lambda: s.kubectl("get", "deployment", "dash-web", "-o", "jsonpath={.spec.replicas}") == "1")
        print("edit: saved after reload, kubectl sees replicas=1")

        extras(s)

        # Delete it.
        s.go("#/o/apps/v1/deployments/default/dash-web")
        s.click("#delete")
        s.click("#confirm-delete")
        s.wait("kubectl to see it gone", lambda: s.kubectl("get", "deployment", "dash-web", "--ignore-not-found", "-o", "name") == "")
        s.wait("the page to say so", lambda: "does not exist" in s.text())
        print("delete: gone per kubectl and the page")

        # The conflict above is the one error the page should have met.
        expected = ("ERR_NETWORK_CHANGED", "409 (Conflict)")
        severe = [e for e in d.get_log("browser")
                  if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)]
        assert not severe, f"browser errors: {json.dumps(severe, indent=1)}"
        print(f"all steps passed in {time.time() - started:.1f}s")
    finally:
        d.quit()


def extras(s):
    """Roll back, trigger a CronJob, create from pasted YAML, nodes and addons pages."""
    d = s.d
    t = time.time()
    s.kubectl("set", "image", "deployment/dash-web", "busybox=rkube-test/busybox:rollback-me")
    s.go("#/o/apps/v1/deployments/default/dash-web")
    s.wait("two revisions", lambda: len(d.find_elements(By.CSS_SELECTOR, "#revision option")) == 2)
    d.execute_script("const r = document.querySelector('#revision'); r.value = r.options[1].value;")
    s.click("#rollback")
    s.wait("kubectl to see the first image again", lambda: s.kubectl(
        "get", "deployment", "dash-web", "-o", "jsonpath={.spec.template.spec.containers[0].image}") == "rkube-test/busybox:1")
    print("rollback: the template's image is back to rkube-test/busybox:1")

    s.kubectl("create", "cronjob", "dash-cron", "--image=rkube-test/busybox:1", "--schedule=0 0 1 1 *", "--", "echo", "cron ran")
    s.go("#/o/batch/v1/cronjobs/default/dash-cron")
    s.click("#trigger")
    s.wait("a job owned by the CronJob", lambda: "dash-cron" in s.kubectl(
        "get", "jobs", "-o", "jsonpath={.items[*].metadata.ownerReferences[0].name}"))
    s.wait("the job on the page", lambda: "dash-cron-manual-" in s.text())
    print("cronjob: triggered, the job is owned by dash-cron")

    s.go("#/create")
    area = s.wait("the YAML box", lambda: d.find_elements(By.ID, "create-yaml"))[0]
    d.execute_script("arguments[0].value = arguments[1]", area,
                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dash-made-1\ndata:\n  a: '1'\n---\n"
                     "# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dash-made-2\n  labels:\n    x: y\n"
                     "---\napiVersion: v1\nkind: Nope\nmetadata:\n  name: bad\n")
    s.click("#create")
    s.wait("three results", lambda: len(d.find_elements(By.CSS_SELECTOR, "#create-result li")) == 3)
    results = s.text("#create-result")
    assert "dash-made-1 created" in results and "dash-made-2 created" in results and "unknown kind" in results, results
    s.kubectl("get", "configmap", "dash-made-1", "dash-made-2")
    print("create: two ConfigMaps made, the unknown kind reported")

    # A port-forward started from the Service page serves the service on this machine.
    s.go("#/o/core/v1/services/kubernetes-dashboard/kubernetes-dashboard")
    s.click("button.port-forward")
    link = s.wait("the forwarded URL", lambda: d.find_elements(By.CSS_SELECTOR, "a.forward-url"))[0]
    url = link.get_attribute("href")
    with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=20) as r:
        assert r.read() == b"ok", url
    print(f"port-forward: {url} serves the service")

    s.go("#/nodes")
    s.wait("the node Ready", lambda: "Ready" in s.text() and "Pods" in s.text())
    s.go("#/addons")
    s.wait("the addons list", lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-name="dashboard"]'))
    assert "enabled" in s.find('tr[data-name="dashboard"]').text
    print(f"nodes and addons pages shown ({time.time() - t:.1f}s for these extras)")


def firefox(url):
    """The overview, a list and a pod's logs in Firefox."""
    import socket
    import tempfile
    from marionette_driver.marionette import Marionette

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="rkube-firefox-")
    with open(os.path.join(profile, "user.js"), "w") as f:
        f.write(f'user_pref("marionette.port", {port});\n')
    ff = subprocess.Popen([os.environ.get("FIREFOX", "firefox-esr"), "--headless", "--marionette", "--no-remote",
                           "-profile", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        m = Marionette(host="127.0.0.1", port=port)
        m.start_session(timeout=60)
        m.navigate(url)

        def wait(what, script, timeout=60):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if m.execute_script(script):
                    return
                time.sleep(0.2)
            raise AssertionError(f"Firefox: timed out waiting for {what}: "
                                 + str(m.execute_script("return document.body.innerText.slice(0, 1500)")))
        wait("the overview's pods", "return document.querySelectorAll('table.pods tr[data-name]').length > 0")
        m.execute_script("location.hash = '#/r/core/v1/namespaces'")
        wait("the namespaces list", "return !!document.querySelector('tr[data-name=\"kube-system\"]')")
        m.execute_script("location.hash = '#/r/core/v1/pods'; localStorage.setItem('rkube.ns', '')")
        wait("a pod link", "return !!document.querySelector('tr[data-name] a')")
        pod = m.execute_script("return document.querySelector('tr[data-name]').dataset.name")
        m.delete_session()
        print(f"firefox: overview, namespaces and pods ({pod}) shown")
    finally:
        ff.kill()
        ff.wait()


if __name__ == "__main__":
    if sys.argv[1] == "smoke":
        smoke(sys.argv[2])
    elif sys.argv[1] == "firefox":
        firefox(sys.argv[2])
    else:
        full(*sys.argv[2:8])
