"""The Python `kubernetes` client against rkube: create, list, watch, patch, delete."""
import sys
import threading

from kubernetes import client, config, watch

kubeconfig, ns = sys.argv[1], sys.argv[2]
config.load_kube_config(config_file=kubeconfig)
v1 = client.CoreV1Api()
apps = client.AppsV1Api()

events = []
ready = threading.Event()


def watcher():
    w = watch.Watch()
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    ready.set()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
        events.append((ev["type"], ev["object"].metadata.name, dict(ev["object"].data or {})))
        if ev["type"] == "DELETED":
            w.stop()


t = threading.Thread(target=watcher)
t.start()
ready.wait(10)

cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"from": "python"}), data={"a": "1"})
created = v1.create_namespaced_config_map(ns, cm)
assert created.metadata.uid and created.metadata.resource_version, created

listed = v1.list_namespaced_config_map(ns, label_selector="from=python")
assert [i.metadata.name for i in listed.items] == ["py"], listed

patched = v1.patch_namespaced_config_map("py", ns, {"data": {"a": "2"}})
assert patched.data == {"a": "2"}, patched.data

dep = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="pyweb"),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels={"app": "pyweb"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "pyweb"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
        ),
    ),
)
apps.create_namespaced_deployment(ns, dep)
got = apps.read_namespaced_deployment("pyweb", ns)
assert got.spec.strategy.type == "RollingUpdate", got.spec.strategy
apps.delete_namespaced_deployment("pyweb", ns)

try:
    v1.read_namespaced_config_map("missing", ns)
    raise AssertionError("expected 404")
except client.exceptions.ApiException as e:
    assert e.status == 404, e.status

v1.delete_namespaced_config_map("py", ns)
t.join(30)
kinds = [(e[0], e[1]) for e in events]
assert kinds == [("ADDED", "py"), ("MODIFIED", "py"), ("DELETED", "py")], events
assert events[1][2] == {"a": "2"}, events
print("python client ok")
