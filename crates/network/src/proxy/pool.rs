//! The endpoints behind one frontend and how a connection picks one: round robin, or
//! sticky per client IP for `sessionAffinity: ClientIP`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Inner {
    backends: Vec<SocketAddr>,
    next: usize,
    sticky: HashMap<IpAddr, (SocketAddr, Instant)>,
}

/// Backends of one frontend, updated in place as endpoints change.
#[derive(Default)]
pub struct Pool {
    inner: Mutex<Inner>,
    affinity: Mutex<Option<Duration>>,
}

impl Pool {
    /// A pool over `backends`.
    pub fn new(backends: Vec<SocketAddr>, affinity_seconds: Option<u64>) -> Pool {
        let pool = Pool::default();
        pool.update(backends, affinity_seconds);
        pool
    }

    /// Replace the backends; sticky clients whose backend is gone pick again.
    pub fn update(&self, backends: Vec<SocketAddr>, affinity_seconds: Option<u64>) {
        *self.affinity.lock().unwrap_or_else(|e| e.into_inner()) =
            affinity_seconds.map(Duration::from_secs);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sticky.retain(|_, (b, _)| backends.contains(b));
        inner.backends = backends;
    }

    /// The backends, in pick order from the next one, for a client at `client`: the sticky
    /// backend first when affinity holds, then the others (so a refused connection can
    /// fall over to the next endpoint).
    pub fn pick(&self, client: IpAddr) -> Vec<SocketAddr> {
        let affinity = *self.affinity.lock().unwrap_or_else(|e| e.into_inner());
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let n = inner.backends.len();
        if n == 0 {
            return Vec::new();
        }
        let now = Instant::now();
        if let Some(timeout) = affinity {
            if let Some((b, seen)) = inner.sticky.get(&client).copied() {
                if now.duration_since(seen) < timeout {
                    inner.sticky.insert(client, (b, now));
                    let mut order = vec![b];
                    order.extend(inner.backends.iter().copied().filter(|x| *x != b));
                    return order;
                }
            }
        }
        let start = inner.next % n;
        inner.next = inner.next.wrapping_add(1);
        let order: Vec<SocketAddr> = (0..n).map(|i| inner.backends[(start + i) % n]).collect();
        if affinity.is_some() {
            inner.sticky.insert(client, (order[0], now));
        }
        order
    }

    /// Remember that `client` ended up on `backend` (after a fall-over).
    pub fn stick(&self, client: IpAddr, backend: SocketAddr) {
        if self
            .affinity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.sticky.insert(client, (backend, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ports: &[u16]) -> Vec<SocketAddr> {
        ports
            .iter()
            .map(|p| SocketAddr::from(([10, 0, 0, 1], *p)))
            .collect()
    }

    #[test]
    fn round_robin_and_affinity() {
        let client: IpAddr = "10.1.1.1".parse().unwrap();
        let other: IpAddr = "10.1.1.2".parse().unwrap();
        let pool = Pool::new(addrs(&[1, 2, 3]), None);
        let firsts: Vec<u16> = (0..6).map(|_| pool.pick(client)[0].port()).collect();
        assert_eq!(firsts, vec![1, 2, 3, 1, 2, 3]);
        assert_eq!(pool.pick(client).len(), 3);

        let sticky = Pool::new(addrs(&[1, 2, 3]), Some(60));
        let first = sticky.pick(client)[0];
        for _ in 0..5 {
            assert_eq!(sticky.pick(client)[0], first);
        }
        assert_ne!(sticky.pick(other)[0], first);
        // The sticky backend goes away: the client moves on.
        sticky.update(addrs(&[4]), Some(60));
        assert_eq!(sticky.pick(client)[0].port(), 4);
        sticky.update(Vec::new(), Some(60));
        assert!(sticky.pick(client).is_empty());
    }
}
