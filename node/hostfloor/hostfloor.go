// Package hostfloor is one host of `orgpeer bench --host-floor`: a bare
// go-libp2p host with orgpeer's transports and, when asked, GossipSub with
// a node's own options, and nothing else of orgpeer's. The benchmark
// (cmd/orgpeer/internal/bench) starts and measures the hosts; this package
// is their libp2p side, which the CLI's internal packages do not link.
package hostfloor

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
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

	"github.com/orgpeer/orgpeer/node"
)

// Run is one host of the floor: it prints its address, reads
// everyone's from stdin, connects to them and publishes until ctx ends.
func Run(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	if len(args) != 4 {
		return errors.New("want: index gossip mesh every")
	}
	index, err1 := strconv.Atoi(args[0])
	gossip, err2 := strconv.ParseBool(args[1])
	mesh, err3 := strconv.Atoi(args[2])
	every, err4 := time.ParseDuration(args[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	lan := node.LANConfig()
	cm, err := connmgr.NewConnManager(lan.MaxPeers, lan.MaxPeers)
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
		lan.MeshDegree = mesh // 0: GossipSub's defaults, as the wan preset
		ps, err := pubsub.NewGossipSub(ctx, h, node.GossipOptions(lan)...)
		if err != nil {
			return err
		}
		// As a node that follows 3 organizations: their topics, on which
		// the hosts publish, and the directory's, which stays quiet.
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
	if every <= 0 || len(topics) == 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	msg := make([]byte, 200)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		rand.Read(msg)
		topics[index%3].Publish(ctx, msg)
	}
}
