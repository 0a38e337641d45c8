//! PersistentVolume binding: claims bind to the smallest fitting volume, wait for their
//! class's provisioner or stay Pending with the reason, take the default class, and
//! release their volume when deleted.

use crate::support::{eventually, namespace, shared_with_node, Kubectl};

fn apply(k: &Kubectl, ns: &str, manifest: &str) {
    k.clone()
        .stdin(manifest)
        .run(&["-n", ns, "apply", "-f", "-"])
        .ok();
}

fn field(k: &Kubectl, args: &[&str], path: &str) -> String {
    let mut a = args.to_vec();
    let p = format!("jsonpath={path}");
    a.extend(["-o", &p]);
    k.run(&a).stdout.trim().to_string()
}

fn pv(name: &str, size: &str, class: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  storageClassName: {class}\n  capacity:\n    storage: {size}\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Retain\n  hostPath:\n    path: /tmp/{name}\n"
    )
}

fn pvc(name: &str, size: &str, class: Option<&str>) -> String {
    let class = class
        .map(|c| format!("  storageClassName: {c}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: {size}\n"
    )
}

#[test]
fn claims_bind_wait_or_explain() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "storage");
    let n = ns.as_str();
    let small = format!("{n}-small");
    let big = format!("{n}-big");
    let class = format!("{n}-manual");
    apply(&k, n, &pv(&small, "1Gi", &class));
    apply(&k, n, &pv(&big, "5Gi", &class));
    apply(&k, n, &pvc("claim", "2Gi", Some(&class)));
    let line = eventually("claim Bound", 30, || {
        let l = k
            .run(&["-n", n, "get", "pvc", "claim", "--no-headers"])
            .stdout;
        l.contains("Bound").then_some(l)
    });
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cols[..5],
        ["claim", "Bound", big.as_str(), "5Gi", "RWO"],
        "{line}"
    );
    eventually("pv Bound", 30, || {
        (field(&k, &["get", "pv", &big], "{.status.phase}") == "Bound").then_some(())
    });
    assert_eq!(
        field(&k, &["get", "pv", &big], "{.spec.claimRef.name}"),
        "claim"
    );
    let pv_line = k.run(&["get", "pv", &big, "--no-headers"]).ok().to_string();
    assert!(pv_line.contains(&format!("{n}/claim")), "{pv_line}");
    eventually("small Available", 30, || {
        (field(&k, &["get", "pv", &small], "{.status.phase}") == "Available").then_some(())
    });

    // Too big for any volume, and its class does not exist.
    apply(&k, n, &pvc("huge", "10Gi", Some(&class)));
    let described = eventually("ProvisioningFailed", 30, || {
        let d = k.run(&["-n", n, "describe", "pvc", "huge"]).stdout;
        d.contains("ProvisioningFailed").then_some(d)
    });
    assert!(
        described.contains(&format!(
            "storageclass.storage.k8s.io \"{class}\" not found"
        )),
        "{described}"
    );
    assert_eq!(
        field(&k, &["-n", n, "get", "pvc", "huge"], "{.status.phase}"),
        "Pending"
    );

    // A class with a provisioner: the claim is handed to it; as the default class it is
    // also what a claim naming no class gets.
    let fast = format!("{n}-fast");
    apply(
        &k,
        n,
        &format!("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {fast}\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: example.com/fast\n"),
    );
    apply(&k, n, &pvc("dynamic", "1Gi", None));
    assert_eq!(
        field(
            &k,
            &["-n", n, "get", "pvc", "dynamic"],
            "{.spec.storageClassName}"
        ),
        fast
    );
    let described = eventually("ExternalProvisioning", 30, || {
        let d = k.run(&["-n", n, "describe", "pvc", "dynamic"]).stdout;
        d.contains("ExternalProvisioning").then_some(d)
    });
    assert!(
        described.contains("Waiting for a volume to be created either by the external provisioner 'example.com/fast'"),
        "{described}"
    );
    assert_eq!(
        field(
            &k,
            &["-n", n, "get", "pvc", "dynamic"],
            "{.metadata.annotations.volume\\.kubernetes\\.io/storage-provisioner}"
        ),
        "example.com/fast"
    );
    k.run(&["delete", "storageclass", &fast]).ok();

    // Deleting the claim releases the retained volume.
    k.run(&["-n", n, "delete", "pvc", "claim"]).ok();
    eventually("pv Released", 30, || {
        (field(&k, &["get", "pv", &big], "{.status.phase}") == "Released").then_some(())
    });
    k.run(&["delete", "pv", &big, &small]).ok();
}
