//! The kernel data path: TCP ClusterIPs and NodePorts as nftables DNAT rules in the node's
//! network namespace, as kube-proxy's nftables mode, so a service connection costs no
//! copy through this process.
//!
//! One table, `ip rkube`, replaced whole in one netlink transaction on every change: new
//! connections see either the old rules or the new ones, and connections already set up
//! keep their translation in conntrack, so they outlive any change. Each service frontend
//! jumps to a chain that picks an endpoint uniformly (`numgen random` with the odds
//! iptables mode gets from `statistic`), marks the packet, and DNATs it. Marked packets are
//! source-NATed to the node's address on the way out: client and endpoint share one
//! Docker bridge, so without it the endpoint would answer the client directly, past the
//! conntrack entry that has to undo the DNAT.
//!
//! What this path leaves to user space (chosen per frontend by [`handles`]): UDP, whose
//! conntrack entries would outlive a changed endpoint, and `sessionAffinity: ClientIP`.

use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Mutex;

use netlink_bindings::nftables::{
    self, CmpOps, MetaKeys, NatRangeFlags, Nfgenmsg, PayloadBase, Registers, VerdictCode,
};
use netlink_bindings::traits::Pusher;
use netlink_socket2::NetlinkSocket;

use super::table::{Frontend, Protocol};

/// The table this module owns; nothing else in the namespace is touched.
const TABLE: &CStr = c"rkube";
/// The chain the hook chains jump to, holding one rule per frontend.
const SERVICES: &CStr = c"services";
/// The packet mark of connections to source-NAT; only this table sets marks in the node.
const MASQUERADE_MARK: u32 = 0x4000;
/// nftables' netfilter hook numbers and priorities (`dstnat`, `srcnat`).
const HOOK_PREROUTING: u32 = 0;
const HOOK_OUTPUT: u32 = 3;
const HOOK_POSTROUTING: u32 = 4;
const PRIORITY_DSTNAT: i32 = -100;
const PRIORITY_SRCNAT: i32 = 100;
/// `NFT_NAT_SNAT` and `NFT_NAT_DNAT`.
const NAT_SNAT: u32 = 0;
const NAT_DNAT: u32 = 1;
/// `NFT_NG_RANDOM`.
const NUMGEN_RANDOM: u32 = 1;
/// The subsystem id that batch begin and end messages carry (`NFNL_SUBSYS_NFTABLES`).
const SUBSYS_NFTABLES: u16 = 10;
const IPPROTO_TCP: u8 = 6;

/// Errors of the kernel data path.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The namespace does not forward packets, so DNAT to another host would drop them.
    #[error(
        "IPv4 forwarding is off in the node (net.ipv4.ip_forward = 0) and cannot be turned on: {0}"
    )]
    Forwarding(String),
    /// The kernel refused or could not take the ruleset.
    #[error("programming nftables: {0}")]
    Netlink(String),
}

/// Whether the kernel path serves `f`; the rest stays in user space.
pub fn handles(f: &Frontend) -> bool {
    f.protocol == Protocol::Tcp
        && f.affinity_seconds.is_none()
        && f.listen.is_ipv4()
        && !f.backends.is_empty()
        && f.backends.iter().all(SocketAddr::is_ipv4)
}

/// One frontend as the table holds it: where connections arrive, where they may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The ClusterIP or node address and port.
    pub to: SocketAddrV4,
    /// The ready endpoints, sorted.
    pub backends: Vec<SocketAddrV4>,
}

/// The table's content for `frontends` (those [`handles`] takes), in a stable order so that
/// equal inputs give equal rulesets and an unchanged one need not be sent again.
pub fn forwards(frontends: &[Frontend]) -> Vec<Forward> {
    let v4 = |a: &SocketAddr| match a {
        SocketAddr::V4(a) => Some(*a),
        SocketAddr::V6(_) => None,
    };
    let mut out: Vec<Forward> = frontends
        .iter()
        .filter(|f| handles(f))
        .filter_map(|f| {
            let mut backends: Vec<SocketAddrV4> = f.backends.iter().filter_map(v4).collect();
            backends.sort();
            backends.dedup();
            Some(Forward {
                to: v4(&f.listen)?,
                backends,
            })
        })
        .collect();
    out.sort_by_key(|f| f.to);
    out.dedup_by_key(|f| f.to);
    out
}

/// The odds that make a chain of rules pick each of `n` endpoints alike: rule `i` takes a
/// connection when `numgen random mod (n - i)` is 0, and the last rule takes what is left.
fn modulus(i: usize, n: usize) -> Option<u32> {
    (i + 1 < n).then(|| (n - i) as u32)
}

/// A netlink connection to nf_tables in the node's network namespace.
pub struct Nftables {
    sock: Mutex<NetlinkSocket>,
    /// The source address for marked connections: the node's own.
    node_ip: Ipv4Addr,
}

impl Nftables {
    /// Check that this namespace can forward, and that it takes a NAT table (an empty one,
    /// which also clears a table an earlier run left behind).
    pub fn open(node_ip: Ipv4Addr) -> Result<Nftables, KernelError> {
        ensure_forwarding()?;
        let k = Nftables {
            sock: Mutex::new(NetlinkSocket::new()),
            node_ip,
        };
        k.program(&[])?;
        Ok(k)
    }

    /// Replace the table with one serving `forwards`, in one transaction.
    pub fn program(&self, forwards: &[Forward]) -> Result<(), KernelError> {
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        // One sequence number per message: 12 for the batch's frame, the table and its fixed
        // chains and rules, then a chain, a dispatch rule, a mark rule and a rule per
        // endpoint for each frontend.
        let messages: usize = 12 + forwards.iter().map(|f| 3 + f.backends.len()).sum::<usize>();
        let mut c = nftables::Chained::new(sock.reserve_seq(messages as u32));
        c.request().op_batch_begin_do(&batch_header());
        // Create first so that the delete never fails on a missing table.
        c.request()
            .op_newtable_do(&header())
            .encode()
            .push_name(TABLE);
        c.request()
            .op_deltable_do(&header())
            .encode()
            .push_name(TABLE);
        c.request()
            .op_newtable_do(&header())
            .encode()
            .push_name(TABLE);
        for (name, hook, priority) in [
            (c"prerouting", HOOK_PREROUTING, PRIORITY_DSTNAT),
            (c"output", HOOK_OUTPUT, PRIORITY_DSTNAT),
            (c"postrouting", HOOK_POSTROUTING, PRIORITY_SRCNAT),
        ] {
            c.request()
                .op_newchain_do(&header())
                .encode()
                .push_table(TABLE)
                .push_name(name)
                .push_type(c"nat")
                .nested_hook()
                .push_num(hook)
                .push_priority(priority)
                .end_nested();
        }
        add_chain(&mut c, SERVICES);
        // prerouting, output: jump services
        for hook_chain in [c"prerouting", c"output"] {
            add_rule(&mut c, hook_chain, |e| jump(e, SERVICES));
        }
        // postrouting: meta mark & MARK == MARK snat to node_ip
        let mark = MASQUERADE_MARK.to_ne_bytes();
        let node_ip = self.node_ip.octets();
        add_rule(&mut c, c"postrouting", |e| {
            let e = masked(load_meta(e, MetaKeys::Mark), &mark);
            nat(
                set(equals(e, &mark), Registers::Reg1, &node_ip),
                NAT_SNAT,
                false,
            )
        });
        let names: Vec<std::ffi::CString> = (0..forwards.len())
            .map(|i| std::ffi::CString::new(format!("svc-{i}")).expect("no NUL in a chain name"))
            .collect();
        for (f, name) in forwards.iter().zip(&names) {
            add_chain(&mut c, name);
            // services: ip daddr A meta l4proto tcp tcp dport P jump svc-i
            let (addr, port) = (f.to.ip().octets(), f.to.port().to_be_bytes());
            add_rule(&mut c, SERVICES, |e| {
                let e = equals(load_payload(e, PayloadBase::NetworkHeader, 16, 4), &addr);
                let e = equals(load_meta(e, MetaKeys::L4Proto), &[IPPROTO_TCP]);
                jump(
                    equals(load_payload(e, PayloadBase::TransportHeader, 2, 2), &port),
                    name,
                )
            });
            // svc-i: meta mark set MARK
            add_rule(&mut c, name, |e| set_mark(set(e, Registers::Reg1, &mark)));
            let n = f.backends.len();
            for (i, backend) in f.backends.iter().enumerate() {
                // svc-i: [numgen random mod (n - i) == 0] dnat to backend
                let (ip, port) = (backend.ip().octets(), backend.port().to_be_bytes());
                add_rule(&mut c, name, |mut e| {
                    if let Some(m) = modulus(i, n) {
                        e = equals(random_below(e, m), &0u32.to_ne_bytes());
                    }
                    let e = set(set(e, Registers::Reg1, &ip), Registers::Reg2, &port);
                    nat(e, NAT_DNAT, true)
                });
            }
        }
        c.request().op_batch_end_do(&batch_header());
        sock.request_chained(&c.finalize())
            .map_err(|e| KernelError::Netlink(e.to_string()))?
            .recv_all()
            .map_err(|e| KernelError::Netlink(e.to_string()))
    }
}

/// The expressions of one rule, as the bindings build them.
type Exprs<P> = nftables::PushExprListAttrs<P>;
/// The expressions of a rule being added to a batch.
type RuleExprs<'a> = Exprs<nftables::PushRuleAttrs<&'a mut Vec<u8>>>;

/// Add a regular chain (no hook) to the table.
fn add_chain(c: &mut nftables::Chained, name: &CStr) {
    c.request()
        .op_newchain_do(&header())
        .encode()
        .push_table(TABLE)
        .push_name(name);
}

/// Append a rule to `chain` whose expressions `build` writes.
fn add_rule(
    c: &mut nftables::Chained,
    chain: &CStr,
    build: impl for<'a> FnOnce(RuleExprs<'a>) -> RuleExprs<'a>,
) {
    let mut op = c
        .request()
        .set_create()
        .set_append()
        .op_newrule_do(&header());
    let exprs = op
        .encode()
        .push_table(TABLE)
        .push_chain(chain)
        .nested_expressions();
    build(exprs).end_nested();
}

/// `len` bytes of the packet at `offset` from `base`, into register 1.
fn load_payload<P: Pusher>(e: Exprs<P>, base: PayloadBase, offset: u32, len: u32) -> Exprs<P> {
    e.nested_elem()
        .nested_data_payload()
        .push_dreg(Registers::Reg1 as u32)
        .push_base(base as u32)
        .push_offset(offset)
        .push_len(len)
        .end_nested()
        .end_nested()
}

/// A packet property (`meta`), into register 1.
fn load_meta<P: Pusher>(e: Exprs<P>, key: MetaKeys) -> Exprs<P> {
    e.nested_elem()
        .nested_data_meta()
        .push_dreg(Registers::Reg1 as u32)
        .push_key(key as u32)
        .end_nested()
        .end_nested()
}

/// Register 1 masked with `mask` (a bitwise AND), in place.
fn masked<P: Pusher>(e: Exprs<P>, mask: &[u8]) -> Exprs<P> {
    e.nested_elem()
        .nested_data_bitwise()
        .push_sreg(Registers::Reg1 as u32)
        .push_dreg(Registers::Reg1 as u32)
        .push_len(mask.len() as u32)
        .nested_mask()
        .push_value(mask)
        .end_nested()
        .nested_xor()
        .push_value(&vec![0; mask.len()])
        .end_nested()
        .end_nested()
        .end_nested()
}

/// The rule goes on only if register 1 holds `value`.
fn equals<P: Pusher>(e: Exprs<P>, value: &[u8]) -> Exprs<P> {
    e.nested_elem()
        .nested_data_cmp()
        .push_sreg(Registers::Reg1 as u32)
        .push_op(CmpOps::Eq as u32)
        .nested_data()
        .push_value(value)
        .end_nested()
        .end_nested()
        .end_nested()
}

/// A constant into `reg`.
fn set<P: Pusher>(e: Exprs<P>, reg: Registers, value: &[u8]) -> Exprs<P> {
    e.nested_elem()
        .nested_data_immediate()
        .push_dreg(reg as u32)
        .nested_data()
        .push_value(value)
        .end_nested()
        .end_nested()
        .end_nested()
}

/// The packet's mark from register 1.
fn set_mark<P: Pusher>(e: Exprs<P>) -> Exprs<P> {
    e.nested_elem()
        .nested_data_meta()
        .push_key(MetaKeys::Mark as u32)
        .push_sreg(Registers::Reg1 as u32)
        .end_nested()
        .end_nested()
}

/// A random number below `modulus`, into register 1.
fn random_below<P: Pusher>(e: Exprs<P>, modulus: u32) -> Exprs<P> {
    e.nested_elem()
        .nested_data_numgen()
        // The generated binding writes this one attribute in host order where the kernel
        // reads network order.
        .push_dreg((Registers::Reg1 as u32).to_be())
        .push_modulus(modulus)
        .push_type(NUMGEN_RANDOM)
        .end_nested()
        .end_nested()
}

/// Continue in `chain`.
fn jump<P: Pusher>(e: Exprs<P>, chain: &CStr) -> Exprs<P> {
    e.nested_elem()
        .nested_data_immediate()
        .push_dreg(Registers::RegVerdict as u32)
        .nested_data()
        .nested_verdict()
        .push_code(VerdictCode::Jump as u32)
        .push_chain(chain)
        .end_nested()
        .end_nested()
        .end_nested()
        .end_nested()
}

/// Translate to the address in register 1 (and, `with_port`, the port in register 2).
fn nat<P: Pusher>(e: Exprs<P>, kind: u32, with_port: bool) -> Exprs<P> {
    let mut nat = e
        .nested_elem()
        .nested_data_nat()
        .push_type(kind)
        .push_family(nix::libc::AF_INET as u32)
        .push_reg_addr_min(Registers::Reg1 as u32);
    let mut flags = NatRangeFlags::MapIps as u32;
    if with_port {
        nat = nat.push_reg_proto_min(Registers::Reg2 as u32);
        flags |= NatRangeFlags::ProtoSpecified as u32;
    }
    nat.push_flags(flags).end_nested().end_nested()
}

/// Turn IPv4 forwarding on if it is off; the node container is created with it on, but
/// one made by an older rkube may not be.
fn ensure_forwarding() -> Result<(), KernelError> {
    const PATH: &str = "/proc/sys/net/ipv4/ip_forward";
    let on = std::fs::read_to_string(PATH)
        .map_err(|e| KernelError::Forwarding(e.to_string()))?
        .trim()
        == "1";
    if on {
        return Ok(());
    }
    std::fs::write(PATH, "1").map_err(|e| KernelError::Forwarding(e.to_string()))
}

fn header() -> Nfgenmsg {
    Nfgenmsg {
        nfgen_family: nix::libc::AF_INET as u8,
        ..Default::default()
    }
}

fn batch_header() -> Nfgenmsg {
    let mut h = Nfgenmsg::new();
    h.set_res_id(SUBSYS_NFTABLES);
    h
}

/// The node address the kernel path source-NATs to: the first IPv4 one.
pub fn snat_address(node_ips: &[IpAddr]) -> Option<Ipv4Addr> {
    node_ips.iter().find_map(|ip| match ip {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontend(listen: &str, backends: &[&str]) -> Frontend {
        Frontend {
            service: "ns/svc:80".into(),
            listen: listen.parse().unwrap(),
            protocol: Protocol::Tcp,
            backends: backends.iter().map(|b| b.parse().unwrap()).collect(),
            affinity_seconds: None,
        }
    }

    #[test]
    fn udp_affinity_and_empty_frontends_stay_in_user_space() {
        let tcp = frontend("10.96.0.10:80", &["10.0.0.2:8080"]);
        let udp = Frontend {
            protocol: Protocol::Udp,
            ..tcp.clone()
        };
        let sticky = Frontend {
            affinity_seconds: Some(10_800),
            ..tcp.clone()
        };
        let empty = frontend("10.96.0.11:80", &[]);
        let v6 = frontend("[fd00::1]:80", &["[fd00::2]:8080"]);
        assert!(handles(&tcp));
        for f in [&udp, &sticky, &empty, &v6] {
            assert!(!handles(f), "{f:?}");
        }
        assert_eq!(
            forwards(&[tcp, udp, sticky, empty, v6]),
            vec![Forward {
                to: "10.96.0.10:80".parse().unwrap(),
                backends: vec!["10.0.0.2:8080".parse().unwrap()],
            }]
        );
    }

    #[test]
    fn forwards_are_sorted_so_equal_services_give_equal_tables() {
        let a = frontend("10.96.0.20:80", &["10.0.0.3:8080", "10.0.0.2:8080"]);
        let b = frontend("172.18.0.2:30080", &["10.0.0.2:8080"]);
        let one = forwards(&[a.clone(), b.clone()]);
        assert_eq!(one, forwards(&[b, a]));
        assert_eq!(one[0].to, "10.96.0.20:80".parse().unwrap());
        assert_eq!(
            one[0].backends,
            vec![
                "10.0.0.2:8080".parse::<SocketAddrV4>().unwrap(),
                "10.0.0.3:8080".parse().unwrap()
            ]
        );
    }

    #[test]
    fn each_endpoint_is_picked_alike() {
        // Rule i takes 1/(n-i) of what reaches it; the last takes the rest.
        for n in 1..=6usize {
            let mut reaching = 1.0f64;
            for i in 0..n {
                let share = match modulus(i, n) {
                    Some(m) => reaching / m as f64,
                    None => reaching,
                };
                assert!((share - 1.0 / n as f64).abs() < 1e-12, "n={n} i={i}");
                reaching -= share;
            }
            assert!(reaching.abs() < 1e-12);
        }
    }

    #[test]
    fn the_snat_address_is_the_first_ipv4_node_address() {
        let ips: Vec<IpAddr> = vec!["fd00::1".parse().unwrap(), "172.18.0.2".parse().unwrap()];
        assert_eq!(snat_address(&ips), Some(Ipv4Addr::new(172, 18, 0, 2)));
        assert_eq!(snat_address(&[]), None);
    }
}
