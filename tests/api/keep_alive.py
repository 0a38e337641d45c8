"""A refused request's body is read before the answer, so its HTTP/1.1 connection stays
usable: headers go first and the body a moment later, then a second request follows on the
same connection. Go's net/http (kube-apiserver) does the same; hyper left alone closes it."""
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
conn = http.client.HTTPSConnection(host, int(port), context=ctx)
conn.putrequest("PUT", path)
conn.putheader("Content-Type", "application/json")
conn.putheader("Content-Length", "2")
conn.endheaders()
time.sleep(0.3)
conn.send(b"{}")
first = conn.getresponse()
first.read()
conn.request("GET", "/api/v1/namespaces/default")
second = conn.getresponse()
second.read()
print(first.status, second.status)
