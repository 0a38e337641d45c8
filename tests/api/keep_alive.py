"""A refused request's body is read before the answer (405, 403 and 401 alike), so its
HTTP/1.1 connection stays usable: headers go first and the body a moment later, then a
second request follows on the same connection. Go's net/http (kube-apiserver) does the same; hyper left alone closes it."""
import base64
import http.client
import os
import ssl
import sys
import tempfile
import time

import yaml

kubeconfig, path = sys.argv[1], sys.argv[2]
config = yaml.safe_load(open(kubeconfig))
server = config["clusters"][0]["cluster"]["server"]
host, port = server.removeprefix("https://").rsplit(":", 1)
tmp = tempfile.mkdtemp()
files = {}
for name, data in [
    ("ca", config["clusters"][0]["cluster"]["certificate-authority-data"]),
    ("crt", config["users"][0]["user"]["client-certificate-data"]),
    ("key", config["users"][0]["user"]["client-key-data"]),
]:
    files[name] = os.path.join(tmp, name)
    with open(files[name], "wb") as f:
        f.write(base64.b64decode(data))
ctx = ssl.create_default_context(cafile=files["ca"])
ctx.load_cert_chain(files["crt"], files["key"])
ctx.set_alpn_protocols(["http/1.1"])


def refused_then_reused(conn, method, path, headers, then):
    """Send a request whose body comes a moment after its headers (so the refusal is
    written before the body is read), then `then` on the same connection."""
    conn.putrequest(method, path)
    for k, v in {"Content-Type": "application/json", "Content-Length": "2", **headers}.items():
        conn.putheader(k, v)
    conn.endheaders()
    time.sleep(0.3)
    conn.send(b"{}")
    first = conn.getresponse()
    first.read()
    conn.request("GET", then)
    second = conn.getresponse()
    second.read()
    return f"{first.status} {second.status}"


conn = http.client.HTTPSConnection(host, int(port), context=ctx)
# 405: no route for PUT on a collection.
print(refused_then_reused(conn, "PUT", path, {}, "/api/v1/namespaces/default"))
# 403: an impersonated user with no rights.
print(refused_then_reused(conn, "POST", path, {"Impersonate-User": "nobody"}, "/api/v1/namespaces/default"))
# 401: no client certificate and a token that is not one.
anonymous = ssl.create_default_context(cafile=files["ca"])
anonymous.set_alpn_protocols(["http/1.1"])
conn = http.client.HTTPSConnection(host, int(port), context=anonymous)
print(refused_then_reused(conn, "POST", path, {"Authorization": "Bearer not-a-token"}, "/version"))
