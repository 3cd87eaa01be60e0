// Package netns builds test beds of hosts on one machine: each host a
// Linux network namespace with its own loopback, joined by bridges that
// live in namespaces of their own, some behind NAT routers (nftables
// masquerade). Nothing it creates touches the machine's own namespace:
// veth pairs are created straight into their namespaces, and a bed has no
// route out of itself. It runs `ip` and `nft`, and knows nothing of orgpeer
// or libp2p.
package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Missing says why this machine cannot build a bed ("" when it can): not
// root, or no `ip` (nor `nft` when nat is asked for).
func Missing(nat bool) string {
	if runtime.GOOS != "linux" {
		return "network namespaces are Linux's"
	}
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no `ip` (iproute2) to create network namespaces"
	}
	if _, err := exec.LookPath("nft"); nat && err != nil {
		return "no `nft` (Debian package nftables) for the NAT routers"
	}
	return ""
}

// Bed is a set of namespaces made for one test. Every name starts with
// its random prefix, so that concurrent beds never meet. Close removes it.
type Bed struct {
	prefix string

	mu    sync.Mutex
	names []string // namespaces, in creation order
	etc   []string // /etc/netns/<name> directories written
	ports int      // switch ports made so far
}

// New returns an empty bed.
func New() (*Bed, error) {
	if why := Missing(false); why != "" {
		return nil, errors.New(why)
	}
	b := make([]byte, 3)
	rand.Read(b)
	return &Bed{prefix: "op" + hex.EncodeToString(b)}, nil
}

// Close deletes every namespace of the bed, and with them their veths and
// bridges, and the hosts files written for them. Processes still running
// in one keep it alive until they exit: stop them first.
func (b *Bed) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for i := len(b.names) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", b.names[i]).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", b.names[i], err, bytes.TrimSpace(out)))
		}
	}
	for _, d := range b.etc {
		errs = append(errs, os.RemoveAll(d))
	}
	b.names, b.etc = nil, nil
	return errors.Join(errs...)
}

// run runs `ip` with args.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// NS creates a namespace named after role, with its loopback up, and
// returns its name.
func (b *Bed) NS(role string) (string, error) {
	name := b.prefix + "-" + role
	if err := run("ip", "netns", "add", name); err != nil {
		return "", err
	}
	b.mu.Lock()
	b.names = append(b.names, name)
	b.mu.Unlock()
	return name, run("ip", "-n", name, "link", "set", "lo", "up")
}

// Switch is an Ethernet segment: a bridge in a namespace of its own, with
// no address there.
type Switch struct {
	b  *Bed
	NS string // the namespace holding the bridge and its ports
}

// Switch creates a segment named after role.
func (b *Bed) Switch(role string) (*Switch, error) {
	ns, err := b.NS(role)
	if err != nil {
		return nil, err
	}
	if err := run("ip", "-n", ns, "link", "add", "br0", "type", "bridge"); err != nil {
		return nil, err
	}
	return &Switch{b: b, NS: ns}, run("ip", "-n", ns, "link", "set", "br0", "up")
}

// Attach plugs namespace ns into the switch: interface ifname in ns, with
// address cidr (10.201.0.11/24), cabled to a new port of the bridge. It
// returns the port's name in the switch's namespace (see Cut).
func (s *Switch) Attach(ns, ifname, cidr string) (string, error) {
	s.b.mu.Lock()
	s.b.ports++
	port := fmt.Sprintf("p%d", s.b.ports)
	s.b.mu.Unlock()
	for _, args := range [][]string{
		{"link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", s.NS},
		{"-n", s.NS, "link", "set", port, "master", "br0"},
		{"-n", s.NS, "link", "set", port, "up"},
		{"-n", ns, "addr", "add", cidr, "dev", ifname},
		{"-n", ns, "link", "set", ifname, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return "", err
		}
	}
	return port, nil
}

// Cut takes a port of the switch down (up false) or back up: the cable is
// pulled, the host on it unreachable.
func (s *Switch) Cut(port string, down bool) error {
	state := "up"
	if down {
		state = "down"
	}
	return run("ip", "-n", s.NS, "link", "set", port, state)
}

// Host creates a host on sw: namespace role with eth0 at cidr and, when gw
// is not empty, its default route through gw. It returns the namespace and
// its switch port (see Switch.Cut).
func (b *Bed) Host(role string, sw *Switch, cidr, gw string) (ns, port string, err error) {
	if ns, err = b.NS(role); err != nil {
		return "", "", err
	}
	if port, err = sw.Attach(ns, "eth0", cidr); err != nil {
		return "", "", err
	}
	if gw != "" {
		err = run("ip", "-n", ns, "route", "add", "default", "via", gw)
	}
	return ns, port, err
}

// Router creates a NAT router between the segments wan (its wan0 at
// wanCIDR) and lan (its lan0 at lanCIDR): it forwards between them and
// masquerades what leaves by wan0, as a home router does. Linux keeps a
// connection's source port where it can, so a socket keeps its public port
// towards every destination (endpoint-independent mapping), while only
// replies to what went out come in (address- and port-dependent filtering).
// Like a home router's firewall it drops what comes to itself unasked on
// wan0: a peer's hole-punching packet that arrives before this side's own
// has left would otherwise be accepted as a flow to the router, and that
// flow's conntrack entry would make the masquerade pick another port for
// this side's packets, which the peer's NAT then drops.
func (b *Bed) Router(role string, wan *Switch, wanCIDR string, lan *Switch, lanCIDR string) (string, error) {
	ns, err := b.NS(role)
	if err != nil {
		return "", err
	}
	if _, err := wan.Attach(ns, "wan0", wanCIDR); err != nil {
		return "", err
	}
	if _, err := lan.Attach(ns, "lan0", lanCIDR); err != nil {
		return "", err
	}
	if err := run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return "", err
	}
	return ns, nft(ns, `
table ip orgpeer_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan0" ct state new drop
	}
}`)
}

// Block makes router ns drop what it would forward to or from ip (true),
// or forward it again (false): two sites can then reach each other only
// through a third party.
func (b *Bed) Block(router, ip string, block bool) error {
	if !block {
		return nft(router, "flush chain ip orgpeer_nat forward")
	}
	return nft(router, fmt.Sprintf("add rule ip orgpeer_nat forward ip daddr %s drop\nadd rule ip orgpeer_nat forward ip saddr %s drop", ip, ip))
}

func nft(ns, script string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// HostsFile gives namespace ns its own /etc/hosts (`ip netns exec` mounts
// /etc/netns/<ns>/hosts over it), so that names resolve there without a
// DNS server. Close removes it.
func (b *Bed) HostsFile(ns string, lines ...string) error {
	dir := filepath.Join("/etc/netns", ns)
	b.mu.Lock()
	b.etc = append(b.etc, dir)
	b.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hosts"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// Command runs name with args inside namespace ns.
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Dialer returns a dial function that opens its connections inside
// namespace ns, for an HTTP client of a process there. The address must be
// literal: a name would be resolved on other threads.
func Dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		if nerr := Do(ns, func() {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
		}); nerr != nil {
			return nil, nerr
		}
		return c, err
	}
}
