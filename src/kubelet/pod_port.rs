//! The second way to a pod's port for port-forward. The kubelet dials inside the pod's
//! network namespace, so a server listening only on the pod's localhost is reachable; ours
//! dials the pod's IP from the node, and when that is refused it runs `rkube port-relay`
//! as an exec in the pod's sandbox (the pause container, which holds the namespace) and
//! speaks through its stdio.

use bytes::Bytes;
use futures::StreamExt;
use tokio_util::io::StreamReader;

use super::runtime::{ContainerRuntime, ExecSpec, Output};
use crate::node::port_relay::CONNECTED;
use crate::streams::portforward::PodConn;

/// Where the rkube binary is in the node image, which the sandbox runs.
const RKUBE_IN_SANDBOX: &str = "/usr/local/bin/rkube";

/// A connection to `localhost:port` inside the pod whose sandbox is `sandbox_id`, or why
/// there is none.
pub async fn relay<R: ContainerRuntime>(
    runtime: &R,
    sandbox_id: &str,
    port: u16,
) -> Result<Box<dyn PodConn>, String> {
    let spec = ExecSpec {
        cmd: vec![
            RKUBE_IN_SANDBOX.into(),
            "port-relay".into(),
            port.to_string(),
        ],
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let (_, io) = runtime
        .exec_stream(sandbox_id, &spec)
        .await
        .map_err(|e| e.to_string())?;
    let stdin = io.stdin.ok_or("the relay has no stdin")?;
    let mut output = io.output;
    let mut complaint = String::new();
    // Nothing is relayed until the relay says it is connected.
    let first = loop {
        match output.next().await {
            Some(Ok(Output::Stdout(b))) if b.is_empty() => {}
            Some(Ok(Output::Stdout(b))) if b[0] == CONNECTED => break b.slice(1..),
            Some(Ok(Output::Stdout(_))) => return Err("the relay answered garbage".into()),
            Some(Ok(Output::Stderr(b))) => complaint.push_str(&String::from_utf8_lossy(&b)),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err(complaint.trim().to_string()),
        }
    };
    let rest = output.filter_map(|o| async move {
        match o {
            Ok(Output::Stdout(b)) => Some(Ok(b)),
            Ok(Output::Stderr(_)) => None,
            Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
        }
    });
    let bytes =
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(first) }).chain(rest);
    let reader = StreamReader::new(Box::pin(bytes));
    Ok(Box::new(tokio::io::join(reader, stdin)))
}
