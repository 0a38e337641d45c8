//! One tunnel per profile: an exclusive lock on `<profile>/.tunnel_lock` holding the
//! tunnel's pid. The kernel drops the lock when the process dies, so a crash never leaves
//! a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another tunnel process is already running for this profile (pid {pid}): terminate it (Ctrl+C in its terminal, or `kill {pid}`) to start a new one")]
    Held {
        /// The holder's pid as it wrote it ("unknown" if unreadable).
        pid: String,
    },
    /// The lock file could not be used.
    #[error("tunnel lock file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The held lock; released on drop.
pub struct TunnelLock {
    _file: Flock<File>,
}

/// Take the lock in `profile_dir` and record this process's pid in it.
pub fn acquire(profile_dir: &Path) -> Result<TunnelLock, LockError> {
    let path = profile_dir.join(".tunnel_lock");
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut file, _)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(LockError::Held {
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.to_string()
                },
            });
        }
    };
    locked.set_len(0).map_err(io)?;
    locked.rewind().map_err(io)?;
    write!(locked, "{}", std::process::id()).map_err(io)?;
    locked.flush().map_err(io)?;
    Ok(TunnelLock { _file: locked })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_told_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).err().expect("second lock refused");
        let me = std::process::id().to_string();
        assert!(
            matches!(&err, LockError::Held { pid } if *pid == me),
            "{err}"
        );
        drop(held);
        assert!(acquire(dir.path()).is_ok());
    }
}
