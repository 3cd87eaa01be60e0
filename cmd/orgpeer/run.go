package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/orgpeer/orgpeer/node"
)

func runCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("run", stdout)
	org := fs.String("org", "", "organization of this peer (required)")
	dataDir := fs.String("data-dir", "", "directory for identity and state (required)")
	preset := fs.String("preset", "default", "timer preset: default (real networks) or local (many nodes on one machine)")
	var listen, boot, watch, trust, revs, announce, noAnnounce, relays listFlag
	fs.Var(&listen, "listen", "libp2p listen multiaddr, repeatable (default: loopback TCP and QUIC, random ports)")
	fs.Var(&boot, "bootstrap", "seed to join through, repeatable: a full multiaddr (/ip4/.../p2p/ID, /dns4/...) or /dnsaddr/NAME")
	retryJoin := fs.Bool("retry-join", false, "keep every --bootstrap seed connected, retrying each with backoff (default: only while out of the network)")
	mdns := fs.Bool("mdns", false, "find orgpeer nodes on the local network by multicast DNS")
	fs.Var(&announce, "announce", "multiaddr to offer peers instead of the listen addresses, repeatable (relayed addresses are kept)")
	fs.Var(&noAnnounce, "no-announce", "multiaddr or address range (10.0.0.0/8) never offered to peers, repeatable")
	fs.Var(&relays, "relay", "circuit relay to keep a slot with (full multiaddr), repeatable: for nodes that may be behind a NAT")
	relayService := fs.Bool("relay-service", false, "relay for peers behind NATs (circuit relay v2): for publicly reachable nodes")
	natPortMap := fs.Bool("nat-portmap", false, "ask the gateway for port mappings (UPnP IGD, NAT-PMP)")
	fs.Var(&watch, "watch", "follow only these organizations, repeatable or comma-separated (default: all)")
	cred := fs.String("credential", "", "this peer's membership credential (from `orgpeer org issue`)")
	fs.Var(&trust, "trust", "trusted organization: a .org file or an org ID, repeatable")
	requireCreds := fs.Bool("require-credentials", false, "ignore peers without a valid credential of a trusted organization")
	fs.Var(&revs, "revocations", "revocation list to enforce and spread (from `orgpeer org revoke`), repeatable")
	api := fs.String("api", "", "HTTP API address (default 127.0.0.1:0, a random port)")
	token := fs.String("api-token", "", "bearer token for the API (required when --api is not loopback; env ORGPEER_API_TOKEN)")
	hostID := fs.String("host-id", "", "physical host identifier (default: derived from the machine id)")
	maxPeers := fs.Int("max-peers", 0, "cap on direct connections (default: the preset's)")
	heartbeat := fs.Duration("heartbeat", 0, "heartbeat interval; the liveness window is 3 of them, a silent peer is probed after 4/3 (default: the preset's)")
	pprof := fs.Bool("pprof", false, "serve /debug/pprof/ on the API")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := node.Preset(*preset)
	if err != nil {
		return usagef("--preset: %v", err)
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
	cfg.APIToken = *token
	if cfg.APIToken == "" {
		cfg.APIToken = os.Getenv("ORGPEER_API_TOKEN")
	}
	if *maxPeers != 0 {
		cfg.MaxPeers = *maxPeers
	}
	if *heartbeat != 0 {
		cfg.HeartbeatInterval, cfg.LivenessWindow, cfg.ProbeAfter = *heartbeat, 3**heartbeat, *heartbeat*4/3
	}
	log, err := newLogger(*logLevel, *logJSON)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usagef("run: %v", err)
	}
	if err := setTimerSlack(cfg.TimerSlack); err != nil {
		log.Warn("running with the kernel's timer slack", "err", err)
	}
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

	select {
	case <-ctx.Done():
	case <-settleGC: // never, when nil
		debug.SetGCPercent(cfg.GCPercent)
		debug.FreeOSMemory() // what the start-up heap no longer holds
		<-ctx.Done()
	}
	log.Info("shutting down: announcing leave")
	leaveCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := n.Leave(leaveCtx); err != nil {
		log.Warn("leave announcement failed", "err", err)
	}
	cancel()
	return n.Close()
}

func newLogger(level string, asJSON bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if asJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}

// tuneRuntime applies the preset's Go runtime settings: the node owns this
// process. GOGC and GOMAXPROCS in the environment take precedence. While
// the node starts, the GC target is StartGCPercent, because a start-up at
// the settled target spends 12 % of its CPU collecting (see the performance
// notes); the channel it returns fires when GCPercent is due (nil: it is
// set already).
func tuneRuntime(cfg *node.Config) (settle <-chan time.Time) {
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
