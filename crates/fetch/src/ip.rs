//! Which addresses may be connected to.
//!
//! The rule is "deny unless clearly public": every special-purpose block from
//! the IANA registries that is not globally reachable is refused, and for IPv6
//! everything outside global unicast (2000::/3) is refused outright, so a range
//! we forgot to list fails closed. Forms that carry an IPv4 address inside an
//! IPv6 one (mapped, NAT64, 6to4) are judged by the embedded IPv4 address,
//! because that is where the packets would really go.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not public. Shown to users by its description, so the
/// address itself (which may be an internal one from our own DNS) never leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockedRange {
    Unspecified,
    ThisNetwork,
    Loopback,
    Private,
    LinkLocal,
    SharedAddressSpace,
    IetfProtocol,
    Documentation,
    Benchmarking,
    Multicast,
    Broadcast,
    Reserved,
    UniqueLocal,
    SiteLocal,
    Ipv4Compatible,
    Nat64LocalUse,
    Teredo,
    DiscardOnly,
}

impl BlockedRange {
    pub fn description(self) -> &'static str {
        match self {
            BlockedRange::Unspecified => "unspecified",
            BlockedRange::ThisNetwork => "\"this network\" (0.0.0.0/8)",
            BlockedRange::Loopback => "loopback",
            BlockedRange::Private => "private-network",
            BlockedRange::LinkLocal => "link-local",
            BlockedRange::SharedAddressSpace => "carrier-grade NAT (100.64.0.0/10)",
            BlockedRange::IetfProtocol => "IETF protocol-assignment",
            BlockedRange::Documentation => "documentation",
            BlockedRange::Benchmarking => "benchmarking",
            BlockedRange::Multicast => "multicast",
            BlockedRange::Broadcast => "broadcast",
            BlockedRange::Reserved => "reserved",
            BlockedRange::UniqueLocal => "unique-local (fc00::/7)",
            BlockedRange::SiteLocal => "site-local",
            BlockedRange::Ipv4Compatible => "IPv4-compatible IPv6",
            BlockedRange::Nat64LocalUse => "local-use NAT64",
            BlockedRange::Teredo => "Teredo",
            BlockedRange::DiscardOnly => "discard-only",
        }
    }
}

impl fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// `None` when the address is public, else the reason it is not.
pub fn blocked_range(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

/// True when the address is globally reachable.
pub fn is_public(ip: IpAddr) -> bool {
    blocked_range(ip).is_none()
}

/// The verdict for one resolved address under an allow-list: public
/// addresses pass, and so do addresses inside an allowed network (which is
/// how tests reach 127.0.0.1). An IPv4-mapped address is also matched in its
/// IPv4 form since the kernel sends it to that IPv4 address.
pub fn check_addr(ip: IpAddr, allow: &[IpNet]) -> Result<(), BlockedRange> {
    let canonical = ip.to_canonical();
    if allow
        .iter()
        .any(|net| net.contains(&ip) || net.contains(&canonical))
    {
        return Ok(());
    }
    match blocked_range(ip) {
        None => Ok(()),
        Some(range) => Err(range),
    }
}

fn in_v4(n: u32, base: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    n & mask == u32::from_be_bytes(base) & mask
}

fn v4_range(ip: Ipv4Addr) -> Option<BlockedRange> {
    let n = u32::from(ip);
    use BlockedRange::*;
    let table: &[([u8; 4], u32, BlockedRange)] = &[
        ([0, 0, 0, 0], 32, Unspecified),
        ([0, 0, 0, 0], 8, ThisNetwork),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, IetfProtocol),
        ([192, 0, 2, 0], 24, Documentation),
        // Deprecated 6to4 relay anycast (RFC 7526): no image host lives there.
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(base, len, _)| in_v4(n, *base, *len))
        .map(|(_, _, range)| *range)
}

fn in_v6(n: u128, base: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    n & mask == base & mask
}

fn v6_range(ip: Ipv6Addr) -> Option<BlockedRange> {
    use BlockedRange::*;
    let n = u128::from(ip);
    let low32 = Ipv4Addr::from((n & 0xffff_ffff) as u32);
    if n == 0 {
        return Some(Unspecified);
    }
    if n == 1 {
        return Some(Loopback);
    }
    // ::ffff:a.b.c.d goes to a.b.c.d.
    if in_v6(n, 0xffff_0000_0000, 96) {
        return v4_range(low32);
    }
    // ::a.b.c.d is deprecated (RFC 4291) and has no legitimate use left.
    if in_v6(n, 0, 96) {
        return Some(Ipv4Compatible);
    }
    // Well-known NAT64 prefix: the gateway forwards to the embedded address.
    if in_v6(n, 0x0064_ff9b_u128 << 96, 96) {
        return v4_range(low32);
    }
    if in_v6(n, 0x0064_ff9b_0001_u128 << 80, 48) {
        return Some(Nat64LocalUse);
    }
    if in_v6(n, 0x0100_u128 << 112, 64) {
        return Some(DiscardOnly);
    }
    if in_v6(n, 0x2001_0db8_u128 << 96, 32) {
        return Some(Documentation);
    }
    if in_v6(n, 0x2001_u128 << 112, 32) {
        return Some(Teredo);
    }
    // The rest of 2001::/23 is IETF protocol assignments (benchmarking,
    // ORCHID, AMT, ...): nothing a listing photo is served from.
    if in_v6(n, 0x2001_u128 << 112, 23) {
        return Some(IetfProtocol);
    }
    // 6to4: 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
    if in_v6(n, 0x2002_u128 << 112, 16) {
        let embedded = Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32);
        return v4_range(embedded);
    }
    if in_v6(n, 0x3fff_u128 << 112, 20) {
        return Some(Documentation);
    }
    // SRv6 SIDs (RFC 9602), not globally reachable.
    if in_v6(n, 0x5f00_u128 << 112, 16) {
        return Some(Reserved);
    }
    if in_v6(n, 0xfc00_u128 << 112, 7) {
        return Some(UniqueLocal);
    }
    if in_v6(n, 0xfe80_u128 << 112, 10) {
        return Some(LinkLocal);
    }
    if in_v6(n, 0xfec0_u128 << 112, 10) {
        return Some(SiteLocal);
    }
    if in_v6(n, 0xff00_u128 << 112, 8) {
        return Some(Multicast);
    }
    // Only 2000::/3 is allocated for global unicast; fail closed elsewhere.
    if !in_v6(n, 0x2000_u128 << 112, 3) {
        return Some(Reserved);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> Option<BlockedRange> {
        blocked_range(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        use BlockedRange::*;
        let cases: &[(&str, BlockedRange)] = &[
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("0.255.255.255", ThisNetwork),
            ("10.0.0.0", Private),
            ("10.255.255.255", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.169.254", LinkLocal),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.0.0.1", IetfProtocol),
            ("192.0.0.170", IetfProtocol),
            ("192.0.2.1", Documentation),
            ("192.88.99.1", Reserved),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("254.1.1.1", Reserved),
            ("255.255.255.255", Broadcast),
        ];
        for (addr, want) in cases {
            assert_eq!(blocked(addr), Some(*want), "{addr}");
        }
    }

    #[test]
    fn ipv4_public_edges() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.112.255",
            "223.255.255.255",
        ] {
            assert_eq!(blocked(addr), None, "{addr} should be public");
        }
    }

    #[test]
    fn ipv6_ranges() {
        use BlockedRange::*;
        let cases: &[(&str, BlockedRange)] = &[
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:0.0.0.0", Unspecified),
            ("::127.0.0.1", Ipv4Compatible),
            ("::8.8.8.8", Ipv4Compatible),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::c0a8:101", Private),
            ("64:ff9b:1::1", Nat64LocalUse),
            ("64:ff9b:1:ffff::8.8.8.8", Nat64LocalUse),
            ("100::1", DiscardOnly),
            ("2001:db8::1", Documentation),
            ("2001:db8:ffff::1", Documentation),
            ("2001::1", Teredo),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
            ("2001:2::1", IetfProtocol),
            ("2001:10::1", IetfProtocol),
            ("2002:7f00:1::1", Loopback),
            ("2002:a00:1::", Private),
            ("2002:c0a8:101::1", Private),
            ("3fff::1", Documentation),
            ("5f00::1", Reserved),
            ("fc00::1", UniqueLocal),
            ("fd00::1", UniqueLocal),
            ("fdff:ffff::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("ff02::1", Multicast),
            ("ff05::2", Multicast),
            ("4000::1", Reserved),
            ("::ffff:0:7f00:1", Reserved),
            ("1::", Reserved),
        ];
        for (addr, want) in cases {
            assert_eq!(blocked(addr), Some(*want), "{addr}");
        }
    }

    #[test]
    fn ipv6_public() {
        for addr in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "3001::1",
        ] {
            assert_eq!(blocked(addr), None, "{addr} should be public");
        }
    }

    #[test]
    fn allow_list_admits_only_its_networks() {
        let allow: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(check_addr("127.0.0.1".parse().unwrap(), &allow).is_ok());
        assert!(check_addr("::ffff:127.0.0.1".parse().unwrap(), &allow).is_ok());
        assert_eq!(
            check_addr("10.0.0.1".parse().unwrap(), &allow),
            Err(BlockedRange::Private)
        );
        assert_eq!(
            check_addr("::1".parse().unwrap(), &allow),
            Err(BlockedRange::Loopback)
        );
        // NAT64 goes via a gateway, so the allow-list for the IPv4 form does not apply.
        assert_eq!(
            check_addr("64:ff9b::7f00:1".parse().unwrap(), &allow),
            Err(BlockedRange::Loopback)
        );
        assert!(check_addr("8.8.8.8".parse().unwrap(), &[]).is_ok());
    }
}
