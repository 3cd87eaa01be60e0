package node

import (
	"context"
	"sync"
)

// pool runs functions on at most a fixed number of goroutines at once.
type pool struct {
	wg    sync.WaitGroup
	slots chan struct{}
}

func newPool(n int) *pool { return &pool{slots: make(chan struct{}, n)} }

// run starts f once a slot is free; it reports false, without starting f,
// if ctx ends first.
func (b *pool) run(ctx context.Context, f func()) bool {
	select {
	case <-ctx.Done():
		return false
	case b.slots <- struct{}{}:
	}
	b.start(f)
	return true
}

// try starts f if a slot is free and reports whether it did.
func (b *pool) try(f func()) bool {
	select {
	case b.slots <- struct{}{}:
	default:
		return false
	}
	b.start(f)
	return true
}

// start runs f in the slot taken for it.
func (b *pool) start(f func()) {
	b.wg.Go(func() {
		defer func() { <-b.slots }()
		f()
	})
}

// wait waits for every function started.
func (b *pool) wait() { b.wg.Wait() }
