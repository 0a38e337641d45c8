//! The DNS wire side: answers questions about the cluster zone with authority, forwards
//! everything else to the node's upstream resolvers (chasing ExternalName CNAMEs there),
//! over UDP and TCP.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::zone::{Lookup, Rec, Want, Zone};

/// Seconds answers may be cached (CoreDNS's kubernetes plugin default).
const TTL: u32 = 5;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// What the server answers from.
pub struct Resolver {
    /// The current zone, swapped as Services and EndpointSlices change.
    pub zone: RwLock<Arc<Zone>>,
    /// Where other names go.
    pub upstreams: Vec<SocketAddr>,
}

fn name(s: &str) -> Option<Name> {
    let mut n = Name::from_ascii(s).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn soa(zone: &Zone) -> Option<Record> {
    let apex = name(zone.domain())?;
    let rdata = SOA::new(
        name(&format!("ns.dns.{}", zone.domain()))?,
        name(&format!("hostmaster.{}", zone.domain()))?,
        1,
        7200,
        1800,
        86400,
        TTL,
    );
    Some(Record::from_rdata(apex, TTL, RData::SOA(rdata)))
}

fn to_record(owner: &Name, rec: &Rec) -> Option<Record> {
    let data = match rec {
        Rec::A(ip) => RData::A(A(*ip)),
        Rec::Cname(t) => RData::CNAME(CNAME(name(t)?)),
        Rec::Srv(port, t) => RData::SRV(SRV::new(0, 100, *port, name(t)?)),
        Rec::Ptr(t) => RData::PTR(PTR(name(t)?)),
    };
    Some(Record::from_rdata(owner.clone(), TTL, data))
}

fn want(t: RecordType) -> Want {
    match t {
        RecordType::A => Want::A,
        RecordType::AAAA => Want::Aaaa,
        RecordType::SRV => Want::Srv,
        RecordType::PTR => Want::Ptr,
        _ => Want::Other,
    }
}

impl Resolver {
    fn zone(&self) -> Arc<Zone> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The response to one wire-format query, or None when it cannot be parsed at all.
    pub async fn answer(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let query = match Message::from_vec(packet) {
            Ok(q) => q,
            Err(_) => {
                // Echo the id back with FORMERR when at least the header is there.
                let id = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
                return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
                    .to_vec()
                    .ok();
            }
        };
        let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
        resp.metadata.recursion_desired = query.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        let Some(q) = query.queries.first().cloned() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp.to_vec().ok();
        };
        resp.add_query(q.clone());
        if query.metadata.message_type != MessageType::Query
            || query.metadata.op_code != OpCode::Query
        {
            resp.metadata.response_code = ResponseCode::NotImp;
            return resp.to_vec().ok();
        }
        let zone = self.zone();
        let qname = q.name().to_ascii();
        match zone.lookup(&qname, want(q.query_type())) {
            Lookup::Found(recs) => {
                resp.metadata.authoritative = true;
                for r in &recs {
                    if let Some(rec) = to_record(q.name(), r) {
                        resp.add_answer(rec);
                    }
                }
                if recs.is_empty() {
                    resp.authorities.extend(soa(&zone));
                }
            }
            Lookup::NxDomain => {
                resp.metadata.authoritative = true;
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.authorities.extend(soa(&zone));
            }
            Lookup::Alias(target) => {
                resp.metadata.authoritative = true;
                resp.answers
                    .extend(to_record(q.name(), &Rec::Cname(target.clone())));
                // Resolve the target (in the zone, or upstream) so stub resolvers get
                // addresses too.
                if zone.owns(&target) {
                    resp.answers
                        .extend(local_chase(&zone, &target, q.query_type()));
                } else if let Some(tname) = name(&target) {
                    let mut chase = Message::query();
                    chase.metadata.recursion_desired = true;
                    chase.add_query(Query::query(tname, q.query_type()));
                    if let Ok(bytes) = chase.to_vec() {
                        if let Some(up) = self.forward(&bytes).await {
                            if let Ok(m) = Message::from_vec(&up) {
                                resp.answers.extend(m.answers);
                            }
                        }
                    }
                }
            }
            Lookup::NotOurs => {
                return match self.forward(packet).await {
                    Some(bytes) => Some(bytes),
                    None => {
                        resp.metadata.response_code = ResponseCode::ServFail;
                        resp.to_vec().ok()
                    }
                };
            }
        }
        resp.to_vec().ok()
    }

    /// Ask the upstream resolvers in turn over UDP (then TCP if the answer was truncated).
    async fn forward(&self, packet: &[u8]) -> Option<Vec<u8>> {
        for up in &self.upstreams {
            let bind: SocketAddr = if up.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let Ok(sock) = UdpSocket::bind(bind).await else {
                continue;
            };
            if sock.connect(up).await.is_err() || sock.send(packet).await.is_err() {
                continue;
            }
            let mut buf = vec![0u8; 65_535];
            let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv(&mut buf)).await
            else {
                continue;
            };
            buf.truncate(n);
            let truncated = buf.get(2).is_some_and(|b| b & 0x02 != 0);
            if truncated {
                if let Some(full) = forward_tcp(*up, packet).await {
                    return Some(full);
                }
            }
            return Some(buf);
        }
        None
    }
}

/// Follow an alias inside the zone: each further CNAME, then the records of the last name.
fn local_chase(zone: &Zone, target: &str, qtype: RecordType) -> Vec<Record> {
    let mut out = Vec::new();
    let mut current = target.to_string();
    // ExternalName services may point at each other; stop on loops.
    for _ in 0..8 {
        let Some(owner) = name(&current) else { break };
        match zone.lookup(&current, want(qtype)) {
            Lookup::Found(recs) => {
                out.extend(recs.iter().filter_map(|r| to_record(&owner, r)));
                break;
            }
            Lookup::Alias(next) => {
                out.extend(to_record(&owner, &Rec::Cname(next.clone())));
                current = next;
            }
            Lookup::NxDomain | Lookup::NotOurs => break,
        }
    }
    out
}

async fn forward_tcp(up: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let fut = async {
        let mut s = TcpStream::connect(up).await.ok()?;
        s.write_all(&(packet.len() as u16).to_be_bytes())
            .await
            .ok()?;
        s.write_all(packet).await.ok()?;
        let len = s.read_u16().await.ok()?;
        let mut buf = vec![0u8; len as usize];
        s.read_exact(&mut buf).await.ok()?;
        Some(buf)
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, fut).await.ok()?
}

/// Serve DNS over UDP on `socket` until aborted.
pub async fn serve_udp(socket: UdpSocket, resolver: Arc<Resolver>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "dns udp receive");
                continue;
            }
        };
        let packet = buf[..n].to_vec();
        let (socket, resolver) = (socket.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(mut resp) = resolver.answer(&packet).await {
                if resp.len() > 512 {
                    resp = truncated(&resp).unwrap_or(resp);
                }
                let _ = socket.send_to(&resp, peer).await;
            }
        });
    }
}

/// A UDP answer too big for a plain resolver: the header and question with TC set, so the
/// client retries over TCP.
fn truncated(resp: &[u8]) -> Option<Vec<u8>> {
    Message::from_vec(resp).ok()?.truncate().to_vec().ok()
}

/// Serve DNS over TCP (two-byte length prefixes) on `listener` until aborted.
pub async fn serve_tcp(listener: TcpListener, resolver: Arc<Resolver>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let resolver = resolver.clone();
        tokio::spawn(async move {
            loop {
                let Ok(Ok(len)) =
                    tokio::time::timeout(Duration::from_secs(10), conn.read_u16()).await
                else {
                    return;
                };
                let mut packet = vec![0u8; len as usize];
                if conn.read_exact(&mut packet).await.is_err() {
                    return;
                }
                let Some(resp) = resolver.answer(&packet).await else {
                    return;
                };
                if conn
                    .write_all(&(resp.len() as u16).to_be_bytes())
                    .await
                    .is_err()
                    || conn.write_all(&resp).await.is_err()
                {
                    return;
                }
            }
        });
    }
}
