package node

import (
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
)

func signed(from, seq, sig string) *pb.Message {
	return &pb.Message{From: []byte(from), Seqno: []byte(seq), Data: []byte("x"), Signature: []byte(sig)}
}

func rpcOf(msgs ...*pb.Message) *pubsub.RPC {
	r := &pubsub.RPC{}
	r.Publish = msgs
	return r
}

func signatures(r *pubsub.RPC) []string {
	var out []string
	for _, m := range r.Publish {
		out = append(out, string(m.Signature))
	}
	return out
}

// TestInFlightDropsCopiesOnly: a second copy of a message (same signature)
// is dropped while the first is in flight; a forged message with the same
// author and sequence number but another signature is not, and a copy
// gets through again once the first was dropped unvalidated or the TTL
// has passed.
func TestInFlightDropsCopiesOnly(t *testing.T) {
	dropped := 0
	f := newInFlight(16, func() { dropped++ })
	real, forged := signed("a", "1", "sig-real"), signed("a", "1", "sig-forged")

	r := rpcOf(real, signed("b", "1", "sig-b"))
	f.inspect("p1", r)
	if got := signatures(r); len(got) != 2 {
		t.Fatalf("first copies: kept %v, want both", got)
	}
	r = rpcOf(signed("a", "1", "sig-real"), forged, &pb.Message{From: []byte("c"), Seqno: []byte("1")})
	f.inspect("p2", r)
	if got := signatures(r); len(got) != 2 || got[0] != "sig-forged" || got[1] != "" {
		t.Fatalf("second copy, forgery, unsigned: kept %q, want the forgery and the unsigned one", got)
	}
	if dropped != 1 {
		t.Fatalf("dropped counted %d, want 1", dropped)
	}

	f.forget(&pubsub.Message{Message: real}) // its first copy met a full queue
	r = rpcOf(signed("a", "1", "sig-real"))
	f.inspect("p3", r)
	if len(r.Publish) != 1 {
		t.Fatal("a copy of a message dropped unvalidated was held back")
	}

	f.first["sig-b"] = time.Now().Add(-inFlightTTL) // the first copy's time is up
	r = rpcOf(signed("b", "1", "sig-b"))
	f.inspect("p4", r)
	if len(r.Publish) != 1 {
		t.Fatal("a copy was held back after the TTL")
	}
}

// TestInFlightIsBounded: a full table is swept, and emptied if nothing
// has expired; it never grows past its bound.
func TestInFlightIsBounded(t *testing.T) {
	f := newInFlight(8, func() {})
	for i := range 100 {
		f.inspect("p", rpcOf(signed("a", string(rune('0'+i)), "sig-"+string(rune(i)))))
		if len(f.first) > 8 {
			t.Fatalf("%d entries, bound 8", len(f.first))
		}
	}
}
