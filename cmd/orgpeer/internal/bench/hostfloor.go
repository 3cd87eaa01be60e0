package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// HostFloorCommand is the hidden subcommand of the orgpeer binary that runs
// one host of HostFloor.
const HostFloorCommand = "bench-host-floor"

// HostFloorOptions configures HostFloor: how many bare go-libp2p hosts, and
// what they do.
type HostFloorOptions struct {
	Bin    string        // this binary, which runs each host as HostFloorCommand
	Nodes  int           // hosts, every one connected to every other (as the lan preset's nodes end up at N <= 64)
	Gossip bool          // join GossipSub: 4 topics, each host publishing on one of 3
	Mesh   int           // GossipSub mesh degree; 0: GossipSub's defaults (the lan preset), else tuned as the local preset
	Every  time.Duration // each host publishes a 200-byte message this often (a heartbeat's size); 0: never
	Settle time.Duration // wait before the window
	Window time.Duration // CPU is measured over this
}

// HostFloor measures the idle floor under orgpeer's per-node costs: N bare
// go-libp2p hosts with orgpeer's transports (TCP and QUIC, Noise, yamux, no
// relay), fully connected on loopback, with GossipSub carrying one message
// per host per interval when asked, and nothing of orgpeer's (no DHT, no
// view, no credentials). It prints CPU per host over the window and RSS.
func HostFloor(ctx context.Context, o HostFloorOptions, out io.Writer) error {
	type host struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	var hosts []host
	defer func() {
		for _, h := range hosts {
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	}()
	var addrs []string
	for i := range o.Nodes {
		cmd := exec.CommandContext(ctx, o.Bin, HostFloorCommand, fmt.Sprint(i), fmt.Sprint(o.Gossip), fmt.Sprint(o.Mesh), o.Every.String())
		cmd.Env = append(os.Environ(), "GOGC=50") // as the lan preset
		child.Guard(cmd)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		hosts = append(hosts, host{cmd, stdin})
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		addrs = append(addrs, strings.TrimSpace(line))
	}
	all := strings.Join(addrs, " ") + "\n"
	for _, h := range hosts {
		io.WriteString(h.stdin, all)
	}
	cpu := func() (time.Duration, int64) {
		var c time.Duration
		var r int64
		for _, h := range hosts {
			d, _ := procstat.CPU(h.cmd.Process.Pid)
			m, _ := procstat.RSS(h.cmd.Process.Pid)
			c, r = c+d, r+m
		}
		return c, r
	}
	if !sleep(ctx, o.Settle) {
		return ctx.Err()
	}
	c0, _ := cpu()
	if !sleep(ctx, o.Window) {
		return ctx.Err()
	}
	c1, rss := cpu()
	n := float64(len(hosts))
	fmt.Fprintf(out, "N=%d gossip=%v mesh=%d every=%v: idle CPU per host %.2f %%, RSS per host %.1f MB (window %v after %v)\n",
		len(hosts), o.Gossip, o.Mesh, o.Every, (c1-c0).Seconds()/o.Window.Seconds()/n*100, float64(rss)/n/(1<<20), o.Window, o.Settle)
	return nil
}

// RunFloorHost is one host of HostFloor: it prints its address, reads
// everyone's from stdin, connects to them and publishes until ctx ends.
func RunFloorHost(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	var index, mesh int
	var gossip bool
	var every time.Duration
	if len(args) != 4 {
		return errors.New("want: index gossip mesh every")
	}
	fmt.Sscan(args[0], &index)
	fmt.Sscan(args[1], &gossip)
	fmt.Sscan(args[2], &mesh)
	every, err := time.ParseDuration(args[3])
	if err != nil {
		return err
	}
	cm, err := connmgr.NewConnManager(64, 64) // the lan preset's MaxPeers
	if err != nil {
		return err
	}
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"),
		libp2p.Transport(tcp.NewTCPTransport), libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New), libp2p.ConnectionManager(cm), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		return err
	}
	defer h.Close()
	var topics []*pubsub.Topic
	if gossip {
		var opts []pubsub.Option
		if mesh > 1 {
			p := pubsub.DefaultGossipSubParams()
			p.D, p.Dlo, p.Dhi, p.Dlazy, p.GossipFactor = mesh, mesh-1, 2*mesh, 1, 0
			p.Dscore, p.Dout = min(p.Dscore, p.Dlo), max(min(p.Dlo-1, p.D/2-1), 0)
			opts = append(opts, pubsub.WithGossipSubParams(p), pubsub.WithFloodPublish(false))
		}
		ps, err := pubsub.NewGossipSub(ctx, h, opts...)
		if err != nil {
			return err
		}
		for t := range 4 {
			tp, err := ps.Join(fmt.Sprintf("floor-%d", t))
			if err != nil {
				return err
			}
			sub, err := tp.Subscribe()
			if err != nil {
				return err
			}
			go func() { // ends with ctx: Next returns its error
				for {
					if _, err := sub.Next(ctx); err != nil {
						return
					}
				}
			}()
			topics = append(topics, tp)
		}
	}
	fmt.Fprintf(out, "%s/p2p/%s\n", h.Addrs()[0], h.ID())
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil {
		return err
	}
	for _, a := range strings.Fields(line) {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return err
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil || ai.ID == h.ID() {
			continue
		}
		go h.Connect(ctx, *ai) // bounded by ctx and the dial timeout
	}
	msg := make([]byte, 200)
	for every > 0 && len(topics) > 0 && sleep(ctx, every) {
		rand.Read(msg)
		topics[index%3].Publish(ctx, msg)
	}
	<-ctx.Done()
	return nil
}
