package netns

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestBed: two hosts on a LAN reach each other; a host behind a NAT
// router reaches the LAN's "internet" side as the router's address, and
// cannot be reached from there; a cut port isolates its host; nothing is
// left after Close.
func TestBed(t *testing.T) {
	if why := Missing(true); why != "" {
		t.Skip(why)
	}
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			b.Close()
		}
	})
	must := func(ns string, _ string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	wan, err := b.Switch("wan")
	if err != nil {
		t.Fatal(err)
	}
	lan, err := b.Switch("lan")
	if err != nil {
		t.Fatal(err)
	}
	pub := must(b.Host("pub", wan, "192.0.0.130/26", ""))
	if _, err := b.Router("nat", wan, "192.0.0.131/26", lan, "10.201.1.1/24"); err != nil {
		t.Fatal(err)
	}
	priv := must(b.Host("priv", lan, "10.201.1.2/24", "10.201.1.1"))

	// A listener on the public host sees the router's address.
	var ln net.Listener
	if err := Do(pub, func() { ln, err = net.Listen("tcp", "192.0.0.130:0") }); err != nil || ln == nil {
		t.Fatalf("listen in %s: %v", pub, err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			seen <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := Dialer(priv)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial out through the NAT: %v", err)
	}
	c.Close()
	if from := <-seen; !strings.HasPrefix(from, "192.0.0.131:") {
		t.Fatalf("the public host saw %s, want the router's address", from)
	}
	// Nothing comes in unasked, and nothing leaves the bed.
	if c, err := Dialer(pub)(ctx, "tcp", "10.201.1.2:9"); err == nil {
		c.Close()
		t.Fatal("reached a host behind the NAT from outside")
	}
	if c, err := Dialer(priv)(ctx, "tcp", "192.0.2.1:9"); err == nil {
		c.Close()
		t.Fatal("reached an address outside the bed")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := Do(pub, func() {}); err == nil {
		t.Fatal("a namespace outlived Close")
	}
}
