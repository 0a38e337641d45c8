//! The channel protocol of exec and attach over WebSocket (`v4.channel.k8s.io` and
//! `v5.channel.k8s.io`): every binary message starts with its channel byte; the server
//! reports how the command ended as a Status on the error channel.

use serde_json::{json, Value};

/// The subprotocols we speak, preferred first.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The channels of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Client → server.
    Stdin = 0,
    /// Server → client.
    Stdout = 1,
    /// Server → client.
    Stderr = 2,
    /// Server → client: the final Status.
    Error = 3,
    /// Client → server: terminal size as JSON.
    Resize = 4,
    /// v5: `[255, channel]` closes that channel (stdin half-close).
    Close = 255,
}

/// A message the client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Bytes for the process's stdin.
    Stdin(Vec<u8>),
    /// The terminal's new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// The client closed its stdin (v5).
    CloseStdin,
}

/// Errors decoding a client message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    /// Empty message.
    #[error("empty message")]
    Empty,
    /// A channel clients may not write.
    #[error("channel {0} is not writable by clients")]
    BadChannel(u8),
    /// A resize message that is not `{"Width":w,"Height":h}`.
    #[error("invalid resize message: {0}")]
    BadResize(String),
}

/// Decode one binary message from the client.
pub fn decode(msg: &[u8]) -> Result<Inbound, ChannelError> {
    let (&ch, rest) = msg.split_first().ok_or(ChannelError::Empty)?;
    match ch {
        0 => Ok(Inbound::Stdin(rest.to_vec())),
        4 => {
            let v: Value =
                serde_json::from_slice(rest).map_err(|e| ChannelError::BadResize(e.to_string()))?;
            let dim = |k: &str| {
                v.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| ChannelError::BadResize(format!("missing {k}")))
            };
            Ok(Inbound::Resize {
                width: dim("Width")?,
                height: dim("Height")?,
            })
        }
        255 if rest.first() == Some(&0) => Ok(Inbound::CloseStdin),
        other => Err(ChannelError::BadChannel(other)),
    }
}

/// A message for the client on `channel`.
pub fn encode(channel: Channel, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(channel as u8);
    m.extend_from_slice(data);
    m
}

/// The Status a finished command reports on the error channel (what kubectl turns into
/// its own exit code).
pub fn exit_status(code: i64) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [exit {code}], exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The Status for a session that failed for another reason.
pub fn failure(message: &str) -> Value {
    json!({"metadata": {}, "status": "Failure", "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages() {
        assert_eq!(decode(b"\x00ls\n"), Ok(Inbound::Stdin(b"ls\n".to_vec())));
        assert_eq!(
            decode(b"\x04{\"Width\":120,\"Height\":40}"),
            Ok(Inbound::Resize {
                width: 120,
                height: 40
            })
        );
        assert_eq!(decode(&[255, 0]), Ok(Inbound::CloseStdin));
        assert_eq!(decode(b""), Err(ChannelError::Empty));
        assert_eq!(decode(b"\x01out"), Err(ChannelError::BadChannel(1)));
        assert!(matches!(
            decode(b"\x04{\"Width\":-1}"),
            Err(ChannelError::BadResize(_))
        ));
        assert!(matches!(
            decode(b"\x04nope"),
            Err(ChannelError::BadResize(_))
        ));
    }

    #[test]
    fn server_messages_and_statuses() {
        assert_eq!(encode(Channel::Stdout, b"hi"), b"\x01hi".to_vec());
        assert_eq!(exit_status(0)["status"], "Success");
        let s = exit_status(3);
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "3");
    }
}
