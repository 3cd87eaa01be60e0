package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/orgpeer/orgpeer/node"
)

// runSettings is what the command line, the environment and the config
// file make of `orgpeer run`.
type runSettings struct {
	cfg     node.Config
	level   slog.Level
	logJSON bool
	values  map[string]string // every flag's value, to tell what a reload changed; holds the token: never logged
}

// reloadable are the flags a SIGHUP applies to the running node.
var reloadable = []string{"trust", "revocations", "log-level"}

// parseRun reads the settings of `orgpeer run`: flags, then ORGPEER_*
// variables, then the --config file, then the preset.
func parseRun(args []string, stdout io.Writer) (*runSettings, error) {
	fs := newFlags("run", stdout)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(stdout, "\nEvery flag can also be set by ORGPEER_<FLAG> (ORGPEER_DATA_DIR for --data-dir) or by a key of\n"+
			"the --config file ({\"data-dir\": \"/var/lib/orgpeer\"}); flags win over the environment, the\n"+
			"environment over the file. SIGHUP re-reads %s.\n", strings.Join(reloadable, ", "))
	}
	fs.String("config", "", "config `file`, JSON or TOML (.toml); its keys are these flags' names")
	org := fs.String("org", "", "organization of this peer (required)")
	dataDir := fs.String("data-dir", "", dataDirHelp)
	preset := fs.String("preset", "lan", "lan (one network; fixed ports), wan (100-300 ms links, loss) or local (many nodes on one machine: loopback, random ports)")
	var listen, boot, watch, trust, revs listFlag
	fs.Var(&listen, "listen", fmt.Sprintf("libp2p listen multiaddr, repeatable (default: TCP and QUIC on port %d of every interface; local preset: loopback, random ports)", node.DefaultPort))
	fs.Var(&boot, "bootstrap", "seed to join through, repeatable: a full `multiaddr` (/ip4/.../p2p/ID, as orgpeer id prints it; /dns4/...) or /dnsaddr/NAME")
	retryJoin := fs.Bool("retry-join", false, "keep every --bootstrap seed connected, retrying each with backoff (default: only while out of the network)")
	mdns := fs.Bool("mdns", false, "find orgpeer nodes on the local network by multicast DNS")
	var announce, noAnnounce, relays listFlag
	fs.Var(&announce, "announce", "multiaddr to offer peers instead of the listen addresses, repeatable (relayed addresses are kept)")
	fs.Var(&noAnnounce, "no-announce", "multiaddr or address range (10.0.0.0/8) never offered to peers, repeatable")
	fs.Var(&relays, "relay", "circuit relay to keep a slot with (full multiaddr), repeatable: for nodes that may be behind a NAT")
	relayService := fs.Bool("relay-service", false, "relay for peers behind NATs (circuit relay v2): for publicly reachable nodes")
	natPortMap := fs.Bool("nat-portmap", false, "ask the gateway for port mappings (UPnP IGD, NAT-PMP)")
	fs.Var(&watch, "watch", "follow only these organizations, repeatable or comma-separated (default: all)")
	cred := fs.String("credential", "", "this peer's membership credential `file` (from orgpeer org issue)")
	fs.Var(&trust, "trust", "trusted organization: a .org file or an org ID, repeatable (SIGHUP re-reads)")
	requireCreds := fs.Bool("require-credentials", false, "ignore peers without a valid credential of a trusted organization")
	fs.Var(&revs, "revocations", "revocation list `file` to enforce and spread (from orgpeer org revoke), repeatable (SIGHUP re-reads)")
	api := fs.String("api", "", fmt.Sprintf("HTTP API address (default %s; local preset: 127.0.0.1:0, a random port)", node.DefaultAPIAddr))
	token := fs.String("api-token", "", "bearer token for the API, required when --api is not loopback (a flag shows in ps: prefer ORGPEER_API_TOKEN or --api-token-file)")
	tokenFile := fs.String("api-token-file", "", "file holding the API's bearer token")
	hostID := fs.String("host-id", "", "physical host identifier (default: derived from /etc/machine-id; set it on clones of one VM image and in containers, which share theirs)")
	maxPeers := fs.Int("max-peers", 0, "cap on direct connections (default: the preset's)")
	heartbeat := fs.Duration("heartbeat", 0, "heartbeat interval; the liveness window is 3 of them, a silent peer is probed after 4/3 (default: the preset's)")
	sampleBudget := fs.Float64("sample-budget", -1, "heartbeats per interval an organization may publish before its members sample theirs (0: never sample; a small value forces sampling at small sizes; default: the preset's, 128)")
	pprof := fs.Bool("pprof", false, "serve /debug/pprof/ on the API")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (SIGHUP re-reads)")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	if err := parseWithConfig(fs, args); err != nil {
		return nil, err
	}
	cfg, err := node.Preset(*preset)
	if err != nil {
		return nil, usagef("--preset: %v", err)
	}
	cfg.Org, cfg.DataDir, cfg.HostID, cfg.Pprof = *org, *dataDir, *hostID, *pprof
	cfg.Bootstrap, cfg.Watch = boot.vals, watch.vals
	cfg.RetryJoin, cfg.MDNS, cfg.Announce, cfg.NoAnnounce = *retryJoin, *mdns, announce.vals, noAnnounce.vals
	cfg.Relays, cfg.RelayService, cfg.NATPortMap = relays.vals, *relayService, *natPortMap
	cfg.CredentialFile, cfg.Trust, cfg.RequireCredentials, cfg.RevocationFiles = *cred, trust.vals, *requireCreds, revs.vals
	if listen.set {
		cfg.ListenAddrs = listen.vals
	}
	if *api != "" {
		cfg.APIAddr = *api
	}
	if cfg.APIToken, err = apiToken(*token, *tokenFile); err != nil {
		return nil, err
	}
	if *maxPeers != 0 {
		cfg.MaxPeers = *maxPeers
	}
	if *sampleBudget >= 0 {
		cfg.SampleBudget = *sampleBudget
	}
	if *heartbeat != 0 {
		cfg.HeartbeatInterval, cfg.LivenessWindow, cfg.ProbeAfter = *heartbeat, 3**heartbeat, *heartbeat*4/3
	}
	if cfg.Org != "" && cfg.DataDir == "" { // without --org, Validate's message says what is missing
		if cfg.DataDir, err = defaultDataDir(); err != nil {
			return nil, err
		}
	}
	s := &runSettings{cfg: cfg, logJSON: *logJSON, values: map[string]string{}}
	if err := s.level.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return nil, usagef("run: %v", err)
	}
	fs.VisitAll(func(f *flag.Flag) { s.values[f.Name] = f.Value.String() })
	return s, nil
}

func runCmd(ctx context.Context, args []string, stdout io.Writer) error {
	s, err := parseRun(args, stdout)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(s.level)
	log := newLogger(level, s.logJSON)
	cfg := s.cfg
	if err := setTimerSlack(cfg.TimerSlack); err != nil {
		log.Warn("running with the kernel's timer slack", "err", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // from here on a SIGHUP waits for the node to start
	defer signal.Stop(hup)
	settleGC := tuneRuntime(&cfg)

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	n, err := node.New(startCtx, cfg, node.WithLogger(log))
	cancel()
	if err != nil {
		var ce *node.ConfigError
		if errors.As(err, &ce) {
			return usagef("run: %v", err)
		}
		return err
	}
	b, _ := json.Marshal(n.Info())
	fmt.Fprintln(stdout, string(b))
	if err := sdNotify("READY=1\nSTATUS=listening; API on " + n.Info().API); err != nil {
		log.Warn("cannot tell the service manager that the node is ready", "err", err)
	}

	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-settleGC: // never, when nil
			debug.SetGCPercent(cfg.GCPercent)
			debug.FreeOSMemory() // what the start-up heap no longer holds
			settleGC = nil
		case <-hup:
			s = reload(n, args, s, level, log)
		}
	}
	sdNotify("STOPPING=1")
	log.Info("shutting down: announcing leave")
	leaveCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := n.Leave(leaveCtx); err != nil {
		log.Warn("leave announcement failed", "err", err)
	}
	cancel()
	return n.Close()
}

// reload reads the settings again as at start (command line, environment,
// config file) and applies to the running node what it can take: trust,
// revocation lists, log level. A mistake is logged and changes nothing.
// It returns the settings in effect.
func reload(n *node.Node, args []string, cur *runSettings, level *slog.LevelVar, log *slog.Logger) *runSettings {
	log.Info("reload: SIGHUP received: reading the settings again")
	next, err := parseRun(args, io.Discard)
	if err != nil {
		log.Error("reload: nothing changed", "err", err)
		return cur
	}
	if err := n.Reload(node.ReloadConfig{Trust: next.cfg.Trust, RevocationFiles: next.cfg.RevocationFiles}); err != nil {
		log.Error("reload: nothing changed", "err", err)
		return cur
	}
	applied := *cur
	applied.values = maps.Clone(cur.values)
	applied.cfg.Trust, applied.cfg.RevocationFiles, applied.level = next.cfg.Trust, next.cfg.RevocationFiles, next.level
	for _, name := range reloadable {
		applied.values[name] = next.values[name]
	}
	if next.level != cur.level {
		level.Set(next.level)
		log.Info("reload: log level changed", "from", cur.level, "to", next.level)
	}
	var restart []string // names only: values may be secrets
	for name, v := range next.values {
		if v != cur.values[name] && !slices.Contains(reloadable, name) {
			restart = append(restart, name)
		}
	}
	if next.cfg.APIToken != cur.cfg.APIToken && !slices.Contains(restart, "api-token") && !slices.Contains(restart, "api-token-file") {
		restart = append(restart, "api-token-file") // same file, new content
	}
	if len(restart) > 0 {
		slices.Sort(restart)
		log.Warn("reload: changed settings that take effect on restart only", "flags", restart)
	}
	return &applied
}

func newLogger(level *slog.LevelVar, asJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if asJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// tuneRuntime applies the preset's Go runtime settings: the node owns this
// process. GOGC and GOMAXPROCS in the environment take precedence. While
// the node starts, the GC target is StartGCPercent, because a start-up at
// the settled target spends 12 % of its CPU collecting (see the performance
// notes); the channel it returns fires when GCPercent is due (nil: it is
// set already).
func tuneRuntime(cfg *node.Config) (settle <-chan time.Time) {
	if !cfg.Pprof {
		// No heap profile is served: sampling allocations for one only
		// costs the profiler's bucket table and its buckets (about 1 MB of
		// RSS on an idle node, see docs/perf-log.md 2026-12-02).
		runtime.MemProfileRate = 0
	}
	if cfg.MaxProcs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(cfg.MaxProcs)
	}
	switch {
	case cfg.GCPercent == 0 || os.Getenv("GOGC") != "":
	case cfg.StartGCPercent > 0:
		debug.SetGCPercent(cfg.StartGCPercent)
		settle = time.After(cfg.StartupPeriod())
	default:
		debug.SetGCPercent(cfg.GCPercent)
	}
	return settle
}
