//! The audited client address: `X-Forwarded-For` is believed only from proxies the operator
//! trusts (`SCIMGATE_TRUSTED_PROXIES`), and then only up to the right-most hop no trusted proxy
//! vouches for; anyone else could write any address there.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// One CIDR block (`10.0.0.0/8`, `fd00::/8`, or a bare address for a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(text: &str) -> Result<Block, String> {
        let refuse = || format!("SCIMGATE_TRUSTED_PROXIES: \"{text}\" is not a CIDR block (e.g. 10.0.0.0/8)");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| refuse())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(refuse)?
            }
            Some(_) => return Err(refuse()),
        };
        Ok(Block { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => same_prefix(&net.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => same_prefix(&net.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of two addresses agree.
fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let whole = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    blocks: Vec<Block>,
}

impl TrustedProxies {
    /// Parses a comma-separated list of CIDR blocks; an unparsable one is an error at start.
    pub fn parse(list: Option<&str>) -> Result<TrustedProxies, String> {
        let blocks = list
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Block::parse)
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { blocks })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(address))
    }

    /// The client address to audit: the peer itself, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` hop that is not a trusted proxy (or the left-most one, when
    /// every hop is trusted). A hop that is not an address ends the walk at the last one believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut believed = peer;
        for hop in hops.iter().rev() {
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            believed = address.to_canonical();
            if !self.trusts(believed) {
                break;
            }
        }
        believed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn blocks_match_their_prefix_only() {
        let trusted = TrustedProxies::parse(Some("10.0.0.0/8, 192.168.1.7, fd00::/8,172.16.0.0/12")).unwrap();
        assert!(trusted.trusts(ip("10.255.1.2")));
        assert!(!trusted.trusts(ip("11.0.0.1")));
        assert!(trusted.trusts(ip("192.168.1.7")));
        assert!(!trusted.trusts(ip("192.168.1.8")));
        assert!(trusted.trusts(ip("172.31.255.255")));
        assert!(!trusted.trusts(ip("172.32.0.0")));
        assert!(trusted.trusts(ip("fd12::1")));
        assert!(!trusted.trusts(ip("fe80::1")));
        // An IPv4 peer seen on an IPv6 socket is still that IPv4 address.
        assert!(trusted.trusts(ip("::ffff:10.1.2.3")));
        assert!(
            TrustedProxies::parse(Some("0.0.0.0/0"))
                .unwrap()
                .trusts(ip("8.8.8.8"))
        );
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "proxy",
            "10.0.0.0/8/1",
        ] {
            assert!(TrustedProxies::parse(Some(bad)).is_err(), "{bad} accepted");
        }
        assert!(TrustedProxies::parse(None).unwrap().blocks.is_empty());
        assert!(TrustedProxies::parse(Some(" , ")).unwrap().blocks.is_empty());
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let none = TrustedProxies::default();
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(none.client(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        let some = TrustedProxies::parse(Some("10.0.0.0/8")).unwrap();
        assert_eq!(some.client(ip("8.8.8.8"), &headers), ip("8.8.8.8"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = TrustedProxies::parse(Some("10.0.0.0/8")).unwrap();
        // The left-most entry is whatever the client claimed; the proxy appended the real one.
        let headers = forwarded(&["6.6.6.6, 1.2.3.4, 10.0.0.9"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("1.2.3.4"));
        // Several header lines are one list, in order.
        let headers = forwarded(&["6.6.6.6", "1.2.3.4"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("1.2.3.4"));
        // No header: the proxy itself.
        assert_eq!(trusted.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // Every hop trusted: the left-most.
        let headers = forwarded(&["10.9.9.9, 10.0.0.9"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.9.9.9"));
        // Garbage stops the walk at the last hop believed.
        let headers = forwarded(&["1.2.3.4, not-an-ip, 10.0.0.9"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("10.0.0.9"));
        let headers = forwarded(&["2001:db8::1"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers), ip("2001:db8::1"));
    }
}
