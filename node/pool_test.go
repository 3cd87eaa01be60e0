package node

import (
	"context"
	"testing"
	"time"
)

// TestPoolTryNeverWaits: with every slot taken, try refuses at once; run
// waits for a slot or for its context.
func TestPoolTryNeverWaits(t *testing.T) {
	b := newPool(1)
	release := make(chan struct{})
	if !b.try(func() { <-release }) {
		t.Fatal("try refused with a free slot")
	}
	if b.try(func() {}) {
		t.Fatal("try started a second function in a pool of one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if b.run(ctx, func() {}) {
		t.Fatal("run started without a free slot")
	}
	close(release)
	if !b.run(context.Background(), func() {}) {
		t.Fatal("run did not start once the slot was free")
	}
	b.wait()
}
