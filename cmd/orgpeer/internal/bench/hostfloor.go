package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// HostFloorCommand is the hidden subcommand of the orgpeer binary that runs
// one host of HostFloor (node/hostfloor.Run: the CLI's internal packages
// never link the libp2p stack).
const HostFloorCommand = "bench-host-floor"

// HostFloorOptions configures HostFloor: how many bare go-libp2p hosts, and
// what they do.
type HostFloorOptions struct {
	Bin    string        // this binary, which runs each host as HostFloorCommand
	Nodes  int           // hosts, every one connected to every other (as the lan preset's nodes end up at N <= 64)
	Gossip bool          // join GossipSub: 4 topics, as a node of 3 organizations joins (theirs and the directory), each host publishing on one of the 3
	Mesh   int           // GossipSub mesh degree, with the node's own GossipSub options (node.GossipOptions); 0: GossipSub's defaults (the wan preset)
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
