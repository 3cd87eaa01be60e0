package node

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// Config is everything a node needs. Start from DefaultConfig or
// LocalConfig and change a few fields.
type Config struct {
	DataDir string // identity, epoch counter and node.json live here
	Org     string // the organization this peer belongs to
	HostID  string // physical host identifier; "" derives it from the machine

	ListenAddrs []string // libp2p listen multiaddrs (TCP and QUIC)
	Bootstrap   []string // seeds to join through: full multiaddrs (with /p2p/), or /dnsaddr/ names listing them
	RetryJoin   bool     // keep every seed connected, not only while the node is out of the network
	MDNS        bool     // find peers on the local network by multicast DNS
	Watch       []string // organizations to follow; empty follows all it learns of

	// What the node offers to peers (see addrPolicy) and how it gets
	// through NATs (see natOptions).
	Announce     []string // multiaddrs offered instead of the host's own direct addresses (relayed ones are kept)
	NoAnnounce   []string // multiaddrs or address ranges never offered
	Relays       []string // circuit relays (full multiaddrs): the node keeps a slot with each and is reachable through them
	RelayService bool     // relay for peers behind NATs: for publicly reachable nodes only
	NATPortMap   bool     // ask the gateway for port mappings (UPnP IGD, NAT-PMP)
	OneMachine   bool     // every peer runs on this machine (the local preset): their loopback addresses can be probed

	CredentialFile     string   // this peer's membership credential, issued by its org
	Trust              []string // trusted organizations: .org files or bare org IDs
	RequireCredentials bool     // ignore peers without a valid credential of a trusted org
	RevocationFiles    []string // revocation lists to enforce and spread

	APIAddr  string // HTTP API listen address (host:port)
	APIToken string // bearer token; required when APIAddr is not loopback
	Pprof    bool   // serve /debug/pprof/ on the API

	HeartbeatInterval   time.Duration // how often the node announces itself
	LivenessWindow      time.Duration // silent longer than this: suspect
	ProbeAfter          time.Duration // silent longer than this: probe its TCP addresses, suspect if all refuse (0: never)
	SuspectRetention    time.Duration // silent longer than this: forgotten
	LeftRetention       time.Duration // a left peer is forgotten this long after leaving
	OrgRetention        time.Duration // an organization nobody mentions is forgotten after this
	DirectoryInterval   time.Duration // how often the node lists its organizations on the directory topic
	LeavePropagateDelay time.Duration // how long a leaving node waits for its leave to spread

	MaxPeers       int           // connection manager high water; discovery dials only below it
	ConnGrace      time.Duration // new connections are not trimmed for this long
	MaxKnownPeers  int           // peers the view remembers
	MaxOrgs        int           // organizations the node follows at most
	MaxMessageSize int           // larger messages, on a topic or a hello stream, are rejected
	SenderRate     float64       // messages per second one sender may have accepted
	SenderBurst    int           // burst allowance for SenderRate

	AdvertiseInterval time.Duration // DHT re-advertisement period
	FindInterval      time.Duration // DHT lookup period per organization (the first lookups come faster)
	BackoffMin        time.Duration // first retry delay for bootstrap and advertising
	BackoffMax        time.Duration // longest retry delay
	DialTimeout       time.Duration // bound on one connection attempt
	DHTBucketSize     int           // Kademlia K: bucket size, provider record replicas, peers per answer (0: the DHT's 20)
	DHTConcurrency    int           // Kademlia alpha: requests one DHT lookup has in flight (0: the DHT's 10)

	MeshDegree int // GossipSub mesh degree D; 0 keeps GossipSub's defaults (see gossipOptions)
	GCPercent  int // Go GC target that `orgpeer run` sets unless GOGC is in the environment; 0 leaves Go's 100

	// StartGCPercent is the Go GC target of `orgpeer run` while the node
	// starts (StartupPeriod), when GCPercent is set; 0: GCPercent at once.
	// A starting node allocates its peers, connections and streams in a
	// burst, and with a small target the collector runs again and again
	// while the machine is busiest.
	StartGCPercent int
	MaxProcs       int // GOMAXPROCS that `orgpeer run` sets unless GOMAXPROCS is in the environment; 0: one per core

	// TimerSlack is how late, at most, the kernel may fire the timers of
	// `orgpeer run` (Linux; 0 keeps the kernel's 50 µs). The node's timers
	// are coarse; the Go runtime's sysmon thread polls every 20 µs while
	// the node works, and a slack spares most of those wake-ups.
	TimerSlack time.Duration
}

// DefaultConfig is for real deployments: timers a LAN or WAN can carry.
// It still listens on loopback only; pass ListenAddrs to be reachable.
func DefaultConfig() Config {
	return Config{
		ListenAddrs:         []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		APIAddr:             "127.0.0.1:0",
		HeartbeatInterval:   5 * time.Second,
		LivenessWindow:      15 * time.Second,
		ProbeAfter:          7 * time.Second,
		SuspectRetention:    5 * time.Minute,
		LeftRetention:       5 * time.Minute,
		OrgRetention:        30 * time.Minute,
		DirectoryInterval:   30 * time.Second,
		LeavePropagateDelay: time.Second,
		MaxPeers:            64,
		ConnGrace:           30 * time.Second,
		MaxKnownPeers:       10000,
		MaxOrgs:             256,
		MaxMessageSize:      4096,
		SenderRate:          2,
		SenderBurst:         20,
		AdvertiseInterval:   time.Hour,
		FindInterval:        time.Minute,
		BackoffMin:          time.Second,
		BackoffMax:          time.Minute,
		DialTimeout:         10 * time.Second,
		TimerSlack:          time.Millisecond,
	}
}

// LocalConfig is for many nodes on one machine (demo, tests, benchmarks):
// loopback only, short timers, small per-node costs (`make bench` measures
// them; the README's Performance section says why each is set).
func LocalConfig() Config {
	c := DefaultConfig()
	c.HeartbeatInterval = 2 * time.Second
	c.ProbeAfter = 2500 * time.Millisecond     // a heartbeat half a second late: probe; a crashed peer is suspect ~2.7 s after its last heartbeat at most
	c.LivenessWindow = 4500 * time.Millisecond // when no probe decides; one lost heartbeat is tolerated
	c.SuspectRetention = 30 * time.Second
	c.LeftRetention = 30 * time.Second
	c.OrgRetention = time.Minute
	c.DirectoryInterval = 15 * time.Second // newcomers are answered at once; the period is a safety net
	c.LeavePropagateDelay = 300 * time.Millisecond
	c.ConnGrace = 5 * time.Second
	c.SenderRate = 10
	c.AdvertiseInterval = 10 * time.Minute
	c.MaxPeers = 8         // a partial topology: per-node costs stay flat as the cluster grows
	c.DHTBucketSize = 10   // smaller answers and fewer dials while joining
	c.DHTConcurrency = 3   //
	c.MeshDegree = 3       // each message reaches a node about twice, not six times
	c.GCPercent = 50       // a smaller heap for a little more GC work
	c.StartGCPercent = 100 // while starting: fewer collections in the start-up burst
	c.MaxProcs = 1         // many nodes share few cores: one P each spares the wake-ups of idle Ps
	c.FindInterval = 5 * time.Second
	c.BackoffMin = 250 * time.Millisecond
	c.BackoffMax = 5 * time.Second
	c.DialTimeout = 3 * time.Second
	c.OneMachine = true
	return c
}

// Preset returns the named preset: "default" or "local".
func Preset(name string) (Config, error) {
	switch name {
	case "default":
		return DefaultConfig(), nil
	case "local":
		return LocalConfig(), nil
	}
	return Config{}, fmt.Errorf("unknown preset %q (want default or local)", name)
}

// ConfigError is a configuration the node refuses: the caller's mistake.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

func configErr(format string, a ...any) error { return &ConfigError{fmt.Sprintf(format, a...)} }

// Validate checks the configuration; its errors are *ConfigError.
func (c *Config) Validate() error {
	switch {
	case c.Org == "":
		return configErr("--org is required")
	case !orgs.ValidName(c.Org):
		return configErr("--org %q: want 1-64 of a-z 0-9 . _ - (starting with a letter or digit)", c.Org)
	case c.DataDir == "":
		return configErr("--data-dir is required")
	case len(c.ListenAddrs) == 0:
		return configErr("--listen: at least one address is required")
	case c.HeartbeatInterval <= 0 || c.LivenessWindow < c.HeartbeatInterval:
		return configErr("the liveness window (%v) must be at least one heartbeat interval (%v)", c.LivenessWindow, c.HeartbeatInterval)
	case c.ProbeAfter < 0 || c.ProbeAfter > 0 && c.ProbeAfter < c.HeartbeatInterval:
		return configErr("the probe delay (%v) must be 0 (no probes) or at least one heartbeat interval (%v)", c.ProbeAfter, c.HeartbeatInterval)
	case c.MaxPeers < 1:
		return configErr("--max-peers must be at least 1")
	case c.MeshDegree < 0 || c.MeshDegree == 1:
		return configErr("the GossipSub mesh degree must be 0 (GossipSub's default) or at least 2, not %d", c.MeshDegree)
	case c.GCPercent < 0 || c.StartGCPercent < 0:
		return configErr("the GC targets (%d, %d at start) must not be negative", c.GCPercent, c.StartGCPercent)
	case c.TimerSlack < 0 || c.TimerSlack > time.Second:
		return configErr("the timer slack (%v) must be between 0 and 1s", c.TimerSlack)
	case len(c.HostID) > wire.MaxHostLen:
		return configErr("--host-id is longer than %d characters", wire.MaxHostLen)
	}
	for _, w := range c.Watch {
		if !orgs.ValidName(w) {
			return configErr("--watch %q is not a valid organization name", w)
		}
	}
	if _, err := parseListenAddrs(c.ListenAddrs); err != nil {
		return err
	}
	if _, err := parseSeeds(c.Bootstrap); err != nil {
		return err
	}
	if _, err := newAddrPolicy(c.Announce, c.NoAnnounce); err != nil {
		return err
	}
	if _, err := parseRelays(c.Relays); err != nil {
		return err
	}
	if c.RelayService && len(c.Relays) > 0 {
		return configErr("--relay-service is for publicly reachable nodes, --relay for nodes that may not be: give one of them")
	}
	host, _, err := net.SplitHostPort(c.APIAddr)
	if err != nil {
		return configErr("--api %q: %v", c.APIAddr, err)
	}
	if !api.IsLoopbackHost(host) && c.APIToken == "" {
		return configErr("--api %s is not a loopback address: set --api-token to protect it", c.APIAddr)
	}
	return nil
}

// StartupPeriod is how long a node counts as starting: while it says it
// wants everyone's heartbeat (helloFor intervals).
func (c *Config) StartupPeriod() time.Duration { return helloFor * c.HeartbeatInterval }

func (c *Config) viewConfig() orgs.Config {
	return orgs.Config{
		LivenessWindow:   c.LivenessWindow,
		SuspectRetention: c.SuspectRetention,
		LeftRetention:    c.LeftRetention,
		OrgRetention:     c.OrgRetention,
		MaxPeers:         c.MaxKnownPeers,
		MaxOrgs:          c.MaxOrgs,
	}
}

// defaultHostID derives a stable identifier of this machine: a hash of its
// machine-id, or of its hostname where there is none.
func defaultHostID() string {
	var seed []byte
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			seed = b
			break
		}
	}
	if seed == nil {
		h, _ := os.Hostname()
		seed = []byte("hostname:" + h)
	}
	sum := sha256.Sum256(append([]byte("orgpeer-host-id:"), seed...))
	return hex.EncodeToString(sum[:8])
}
