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
	MaxMessageAge       time.Duration // a heartbeat or leave sent longer ago than this (plus MaxClockSkew) is ignored: a replay
	MaxClockSkew        time.Duration // how far another peer's clock may be off this node's, either way
	TombstoneRetention  time.Duration // a forgotten peer's last version is kept this long, against replays of its old heartbeats

	MaxPeers      int           // connection manager high water; discovery dials only below it
	ConnGrace     time.Duration // new connections are not trimmed for this long
	MaxKnownPeers int           // peers the view remembers
	MaxTombstones int           // forgotten peers whose last version the view keeps
	MaxUnverified int           // unverified peers the view remembers; 0: MaxKnownPeers/10 when an org is trusted, else MaxKnownPeers
	// RelayUnverified is how many new unverified peers one neighbour may
	// bring per minute (a bucket of that size); beyond it their heartbeats
	// are ignored and the neighbour's score lowered, since minted peers
	// cost nothing. 0: MaxUnverified/10 when an org is trusted, else none.
	RelayUnverified int
	MaxOrgs         int     // organizations the node follows at most
	MaxMessageSize  int     // larger messages, on a topic or a hello stream, are rejected
	SenderRate      float64 // messages per second one sender may have accepted
	SenderBurst     int     // burst allowance for SenderRate

	AdvertiseInterval time.Duration // DHT re-advertisement period
	FindInterval      time.Duration // DHT lookup period per organization (the first lookups come faster)
	BackoffMin        time.Duration // first retry delay for bootstrap and advertising
	BackoffMax        time.Duration // longest retry delay
	DialTimeout       time.Duration // bound on one connection attempt
	DHTBucketSize     int           // Kademlia K: bucket size, provider record replicas, peers per answer (0: the DHT's 20)
	DHTConcurrency    int           // Kademlia alpha: requests one DHT lookup has in flight (0: the DHT's 10)

	// Sampled heartbeats (docs/protocol.md, "Sampled heartbeats"): an
	// organization whose members would publish more than SampleBudget
	// heartbeats per heartbeat interval publishes a sample of them, and
	// every node estimates its size over SampleWindow. Every member of an
	// organization should use the same HeartbeatInterval: it is the round.
	SampleBudget float64       // heartbeats per interval one organization may publish; larger ones sample; 0: never sample (receivers still estimate those that do)
	SampleWindow time.Duration // how much time an estimate covers

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

// Default ports of the lan and wan presets, fixed so that firewall rules,
// scrape configs and saved bootstrap addresses survive a restart (as
// Serf's 7946 and Kubo's 4001 do).
const (
	DefaultPort    = 4101 // libp2p, TCP and UDP (QUIC) alike, on every interface
	DefaultAPIPort = 4102 // the HTTP API, on loopback
)

// DefaultAPIAddr is the API address of the lan and wan presets, where the
// CLI looks for a node when no data dir of one is found.
var DefaultAPIAddr = fmt.Sprintf("127.0.0.1:%d", DefaultAPIPort)

// LANConfig is the default preset, for machines on one network (links of a
// few milliseconds, little loss): fixed ports on every interface, timers
// that notice a crash within seconds. WANConfig and LocalConfig start from
// it and change a few fields.
func LANConfig() Config {
	return Config{
		DataDir: "", // set by the caller (the CLI defaults to the XDG state dir)
		Org:     "", // set by the caller: there is no default organization
		HostID:  "", // derived from /etc/machine-id; set it where clones share one

		ListenAddrs: []string{ // reachable from other machines, on ports an operator can open
			fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", DefaultPort),
			fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", DefaultPort),
		},
		Bootstrap: nil,   // a first node bootstraps from nobody; others name one member
		Watch:     nil,   // follow every organization the node learns of
		RetryJoin: false, // seeds are dialled while the node is out of the network; once in, members suffice
		MDNS:      false, // multicast DNS is opt-in: not every LAN wants it

		Announce:     nil,   // the host's own direct addresses, loopback and link-local left out once it has others
		NoAnnounce:   nil,   // nothing else held back
		Relays:       nil,   // no static relay: a node on a LAN is reachable directly
		RelayService: false, // relaying for others costs bandwidth: public nodes opt in
		NATPortMap:   false, // asking the gateway for mappings is opt-in
		OneMachine:   false, // peers run elsewhere: another host's loopback proves nothing

		CredentialFile:     "",    // a bare claim until an organization issues one
		Trust:              nil,   // no organization trusted: every member counts unverified
		RequireCredentials: false, // unverified members are counted, apart
		RevocationFiles:    nil,   // only the lists kept in the data dir are enforced

		APIAddr:  DefaultAPIAddr, // loopback: only this machine asks
		APIToken: "",             // none needed on loopback
		Pprof:    false,          // profiling endpoints off

		HeartbeatInterval:   5 * time.Second,  // one small message per peer every 5 s: cheap on a LAN
		LivenessWindow:      15 * time.Second, // three heartbeats: two lost in a row are tolerated
		ProbeAfter:          7 * time.Second,  // a heartbeat 2 s late: probe; a crashed peer is suspect within ~7 s
		SuspectRetention:    5 * time.Minute,  // long enough to see a reboot come back as the same peer
		LeftRetention:       5 * time.Minute,  // a departure stays visible for a while, then goes
		OrgRetention:        30 * time.Minute, // an organization nobody mentions is kept through an outage
		DirectoryInterval:   30 * time.Second, // newcomers are answered at once; the period is a safety net
		LeavePropagateDelay: time.Second,      // a leave crosses a LAN's mesh in well under a second
		MaxMessageAge:       15 * time.Second, // the liveness window: an older heartbeat could not keep a peer alive anyway
		MaxClockSkew:        30 * time.Second, // NTP-less machines drift; a replay window this wide is still bounded
		TombstoneRetention:  30 * time.Minute, // longer than any replay window (age + skew + window)

		MaxPeers:        64,               // direct connections; the rest is reached through relayed heartbeats
		ConnGrace:       30 * time.Second, // a new connection has time to prove useful
		MaxKnownPeers:   10000,            // bounds the view's memory
		MaxTombstones:   10000,            // bounds the forgotten peers' versions kept against replays
		MaxUnverified:   0,                // a tenth of MaxKnownPeers when an org is trusted: minted claims never crowd out members
		RelayUnverified: 0,                // a tenth of that per relay and minute: a flooding relay is graylisted
		MaxOrgs:         256,              // bounds the topics joined and the directory
		MaxMessageSize:  4096,             // a heartbeat carrying its credential fits with room to spare
		SenderRate:      2,                // messages per second per sender: heartbeats, hellos, a leave
		SenderBurst:     20,               // a restarting peer's start-up burst passes

		AdvertiseInterval: time.Hour,        // DHT provider records live 48 h; re-advertising hourly is plenty
		FindInterval:      time.Minute,      // new members are mostly learned by gossip, the DHT is the backstop
		BackoffMin:        time.Second,      // first retry of a failed bootstrap or advertisement
		BackoffMax:        time.Minute,      // a seed that is down is retried at least every minute
		DialTimeout:       10 * time.Second, // a LAN answers in milliseconds; this bounds a dead address
		DHTBucketSize:     0,                // the DHT's own 20
		DHTConcurrency:    0,                // the DHT's own 10

		SampleBudget: 128,              // orgs of up to 128 members stay exact; larger ones cost about 25 heartbeats/s each, whatever their size
		SampleWindow: 80 * time.Second, // 16 rounds: about 1,700 samples, an estimate within ±5 % at 95 % (make sim-model)

		MeshDegree:     3,                // a heartbeat reaches a node about 3 times, not 7 (GossipSub's D = 6 with flood publishing); an idle node's CPU goes mostly to those copies (docs/perf-log.md)
		GCPercent:      50,               // an idle node's live heap is ~4 MB: Go's 100 would hold ~2 MB more RSS for a few idle GCs less
		StartGCPercent: 100,              // while starting: fewer collections in the start-up burst
		MaxProcs:       0,                // one P per core
		TimerSlack:     time.Millisecond, // the node's timers are coarse; fewer wake-ups
	}
}

// DefaultConfig is LANConfig, the default preset.
func DefaultConfig() Config { return LANConfig() }

// WANConfig is for nodes across data centres or the Internet: links of
// 100-300 ms that drop packets now and then. It trades detection speed for
// fewer false suspicions, as memberlist's WAN profile does.
func WANConfig() Config {
	c := LANConfig()
	c.HeartbeatInterval = 10 * time.Second  // half the traffic on links that cost more; a 300 ms RTT gains nothing from faster beats
	c.LivenessWindow = 40 * time.Second     // four heartbeats: a lossy path may drop three in a row without a false suspicion
	c.ProbeAfter = 15 * time.Second         // a heartbeat queued or retransmitted for 5 s is not probed yet
	c.SuspectRetention = 15 * time.Minute   // a partition between regions often lasts minutes; the peer comes back as itself
	c.LeftRetention = 10 * time.Minute      // a departure stays visible as long as a region's outage might hide it
	c.LeavePropagateDelay = 2 * time.Second // a leave needs a few 300 ms hops to reach every region
	c.ConnGrace = time.Minute               // handshakes over long links are slow; let new connections settle
	c.DialTimeout = 30 * time.Second        // TCP retransmits its SYN after 1 s and 3 s; QUIC's handshake takes several RTTs
	c.BackoffMax = 5 * time.Minute          // a seed across the world that is down is not hammered
	c.FindInterval = 2 * time.Minute        // each DHT lookup costs several round trips of 300 ms
	c.SampleWindow = 160 * time.Second      // 16 rounds of 10 s, as in lan
	c.MeshDegree = 0                        // GossipSub's defaults (D = 6, flood publishing): links that drop packets want more paths
	return c
}

// LocalConfig is for many nodes on one machine (demo, tests, benchmarks):
// loopback only on random ports (many nodes share the machine), short
// timers, small per-node costs (`make bench` measures them; the README's
// Performance section says why each is set).
func LocalConfig() Config {
	c := LANConfig()
	c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"} // port 0: a free one each
	c.APIAddr = "127.0.0.1:0"                                                        // likewise
	c.HeartbeatInterval = 2 * time.Second
	c.ProbeAfter = 2500 * time.Millisecond     // a heartbeat half a second late: probe; a crashed peer is suspect ~2.7 s after its last heartbeat at most
	c.LivenessWindow = 4500 * time.Millisecond // when no probe decides; one lost heartbeat is tolerated
	c.SuspectRetention = 30 * time.Second
	c.LeftRetention = 30 * time.Second
	c.OrgRetention = time.Minute
	c.DirectoryInterval = 15 * time.Second // newcomers are answered at once; the period is a safety net
	c.LeavePropagateDelay = 300 * time.Millisecond
	c.MaxMessageAge = c.LivenessWindow
	c.MaxClockSkew = 5 * time.Second // one machine, or a LAN with NTP
	c.TombstoneRetention = 5 * time.Minute
	c.ConnGrace = 5 * time.Second
	c.SenderRate = 10
	c.AdvertiseInterval = 10 * time.Minute
	c.MaxPeers = 8       // a partial topology: per-node costs stay flat as the cluster grows
	c.DHTBucketSize = 10 // smaller answers and fewer dials while joining
	c.DHTConcurrency = 3 //
	c.MaxProcs = 1       // many nodes share few cores: one P each spares the wake-ups of idle Ps
	c.FindInterval = 5 * time.Second
	c.BackoffMin = 250 * time.Millisecond
	c.BackoffMax = 5 * time.Second
	c.DialTimeout = 3 * time.Second
	c.OneMachine = true
	c.SampleWindow = 32 * time.Second // 16 rounds of 2 s, as in lan
	return c
}

// Presets names the presets Preset knows, the default first.
var Presets = []string{"lan", "wan", "local"}

// Preset returns the named preset: lan (the default; "default" is an
// alias), wan or local.
func Preset(name string) (Config, error) {
	switch name {
	case "lan", "default":
		return LANConfig(), nil
	case "wan":
		return WANConfig(), nil
	case "local":
		return LocalConfig(), nil
	}
	return Config{}, fmt.Errorf("unknown preset %q (want lan, wan or local)", name)
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
	case c.MaxMessageAge <= 0 || c.MaxClockSkew < 0:
		return configErr("the message age bound (%v) must be positive and the clock skew (%v) not negative", c.MaxMessageAge, c.MaxClockSkew)
	case c.TombstoneRetention <= c.MaxMessageAge+c.MaxClockSkew:
		return configErr("the tombstone retention (%v) must exceed the message age bound and clock skew (%v): a replay within them would find no tombstone", c.TombstoneRetention, c.MaxMessageAge+c.MaxClockSkew)
	case c.MaxPeers < 1:
		return configErr("--max-peers must be at least 1")
	case c.MeshDegree < 0 || c.MeshDegree == 1:
		return configErr("the GossipSub mesh degree must be 0 (GossipSub's default) or at least 2, not %d", c.MeshDegree)
	case c.GCPercent < 0 || c.StartGCPercent < 0:
		return configErr("the GC targets (%d, %d at start) must not be negative", c.GCPercent, c.StartGCPercent)
	case c.TimerSlack < 0 || c.TimerSlack > time.Second:
		return configErr("the timer slack (%v) must be between 0 and 1s", c.TimerSlack)
	case c.SampleBudget < 0 || c.SampleBudget > 0 && c.SampleWindow < c.HeartbeatInterval:
		return configErr("--sample-budget (%v) must not be negative, and the sample window (%v) must hold at least one heartbeat interval (%v)", c.SampleBudget, c.SampleWindow, c.HeartbeatInterval)
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
		LivenessWindow:     c.LivenessWindow,
		SuspectRetention:   c.SuspectRetention,
		LeftRetention:      c.LeftRetention,
		OrgRetention:       c.OrgRetention,
		MaxPeers:           c.MaxKnownPeers,
		MaxOrgs:            c.MaxOrgs,
		TombstoneRetention: c.TombstoneRetention,
		MaxTombstones:      c.MaxTombstones,
		MaxUnverified:      c.maxUnverified(),
	}
}

// maxUnverified is MaxUnverified, or its default: a tenth of the view when
// credentials are in use, where unverified peers are few.
func (c *Config) maxUnverified() int {
	switch {
	case c.MaxUnverified > 0:
		return c.MaxUnverified
	case len(c.Trust) > 0:
		return max(c.MaxKnownPeers/10, 1)
	}
	return c.MaxKnownPeers
}

// relayUnverified is RelayUnverified, or its default; 0: no bound.
func (c *Config) relayUnverified() int {
	switch {
	case c.RelayUnverified > 0:
		return c.RelayUnverified
	case len(c.Trust) > 0:
		return max(c.maxUnverified()/10, 10)
	}
	return 0
}

// defaultHostID derives a stable identifier of this machine: a hash of its
// machine-id, or of its hostname where there is none (machineID false).
// Clones of one VM image, and containers that bind-mount the host's file,
// share a machine-id: they need --host-id to count as distinct hosts.
func defaultHostID() (id string, machineID bool) {
	var seed []byte
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			seed, machineID = b, true
			break
		}
	}
	if seed == nil {
		h, _ := os.Hostname()
		seed = []byte("hostname:" + h)
	}
	sum := sha256.Sum256(append([]byte("orgpeer-host-id:"), seed...))
	return hex.EncodeToString(sum[:8]), machineID
}
