package node

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// addrPolicy decides which of the host's addresses it offers to peers: in
// identify, in signed peer records, to the DHT and mDNS (as go-libp2p's
// AddrsFactory) and in the node's heartbeats, which everyone hears.
//
// A loopback or link-local address names a different machine, or nothing,
// wherever a peer on another host stands: offered there it makes the peer
// dial its own loopback, and a probe that gets refused there proves nothing.
// So while the node has any other address, those two kinds are dropped; a
// node listening on loopback only (the local preset) keeps them, since only
// its own machine can reach it anyway.
type addrPolicy struct {
	announce []ma.Multiaddr // replaces the host's direct addresses when set
	hide     []ma.Multiaddr // exact addresses never offered (--no-announce)
	hideNets []netip.Prefix // address ranges never offered (--no-announce)
}

// newAddrPolicy parses --announce (multiaddrs) and --no-announce
// (multiaddrs, or ranges as 10.0.0.0/8 or /ip4/10.0.0.0/ipcidr/8).
func newAddrPolicy(announce, noAnnounce []string) (*addrPolicy, error) {
	p := &addrPolicy{}
	for _, s := range announce {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, configErr("--announce %q: %v", s, err)
		}
		p.announce = append(p.announce, a)
	}
	for _, s := range noAnnounce {
		if pfx, ok := parseRange(s); ok {
			p.hideNets = append(p.hideNets, pfx)
			continue
		}
		a, err := ma.NewMultiaddr(s)
		if err == nil && slices.ContainsFunc(a, func(c ma.Component) bool { return c.Code() == ma.P_IPCIDR }) {
			err = errors.New("not an address range")
		}
		if err != nil {
			return nil, configErr("--no-announce %q: want a multiaddr or an address range (10.0.0.0/8, /ip4/10.0.0.0/ipcidr/8): %v", s, err)
		}
		p.hide = append(p.hide, a)
	}
	return p, nil
}

// parseRange reads 10.0.0.0/8, fd00::/8, /ip4/10.0.0.0/ipcidr/8 or
// /ip6/fd00::/ipcidr/8.
func parseRange(s string) (netip.Prefix, bool) {
	if !strings.HasPrefix(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		return pfx.Masked(), err == nil
	}
	a, err := ma.NewMultiaddr(s)
	if err != nil || len(a) != 2 || a[1].Code() != ma.P_IPCIDR {
		return netip.Prefix{}, false
	}
	pfx, err := netip.ParsePrefix(a[0].Value() + "/" + a[1].Value())
	return pfx.Masked(), err == nil
}

// filter is the AddrsFactory: the addresses offered to peers out of the
// host's own (listen, observed, mapped and relay addresses).
func (p *addrPolicy) filter(addrs []ma.Multiaddr) []ma.Multiaddr {
	if len(p.announce) > 0 {
		kept := append([]ma.Multiaddr(nil), p.announce...)
		for _, a := range addrs {
			if isRelayed(a) {
				kept = append(kept, a)
			}
		}
		addrs = kept
	}
	out := make([]ma.Multiaddr, 0, len(addrs))
	wide := false // an address other than loopback or link-local remains
	for _, a := range addrs {
		if p.hidden(a) || manet.IsIPUnspecified(a) {
			continue
		}
		out = append(out, a)
		if s := addrScope(a); s != scopeLoopback && s != scopeLinkLocal {
			wide = true
		}
	}
	if !wide {
		return out
	}
	kept := out[:0]
	for _, a := range out {
		if s := addrScope(a); s != scopeLoopback && s != scopeLinkLocal {
			kept = append(kept, a)
		}
	}
	return kept
}

func (p *addrPolicy) hidden(a ma.Multiaddr) bool {
	for _, h := range p.hide {
		if a.Equal(h) {
			return true
		}
	}
	if len(p.hideNets) == 0 {
		return false
	}
	ip, ok := firstIP(a)
	if !ok {
		return false
	}
	for _, pfx := range p.hideNets {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// Address scopes: where an address means the same machine.
const (
	scopeLoopback  = "loopback"   // this machine only
	scopeLinkLocal = "link-local" // one link, and needs a zone
	scopePrivate   = "private"    // a private network (RFC 1918, CGNAT, ULA)
	scopePublic    = "public"     // anywhere
	scopeOther     = "other"      // a name, a relay, or an unroutable range
)

// addrScope classifies a by its first IP component; a relayed address
// (through /p2p-circuit) is scopeOther whatever its relay's address.
func addrScope(a ma.Multiaddr) string {
	if isRelayed(a) {
		return scopeOther
	}
	ip, ok := firstIP(a)
	if !ok {
		return scopeOther
	}
	return ipScope(ip)
}

func ipScope(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return scopeLoopback
	case ip.IsLinkLocalUnicast():
		return scopeLinkLocal
	case ip.IsPrivate() || cgnat.Contains(ip):
		return scopePrivate
	}
	if a, err := manet.FromIP(ip.AsSlice()); err == nil && manet.IsPublicAddr(a) {
		return scopePublic
	}
	return scopeOther
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// firstIP returns the IP of a's first component, if it is one.
func firstIP(a ma.Multiaddr) (netip.Addr, bool) {
	if len(a) == 0 {
		return netip.Addr{}, false
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		ip, ok := netip.AddrFromSlice(net.IP(a[0].RawValue()))
		return ip.Unmap(), ok
	}
	return netip.Addr{}, false
}

// isRelayed reports whether a goes through a circuit relay.
func isRelayed(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}

// loopbackOnly reports whether every listen address is a loopback one:
// such a node is reachable from its own machine only, and has no use for
// relays, hole punching or AutoNAT.
func loopbackOnly(listen []ma.Multiaddr) bool {
	for _, a := range listen {
		if !manet.IsIPLoopback(a) {
			return false
		}
	}
	return true
}
