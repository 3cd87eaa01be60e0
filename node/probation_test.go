package node

import (
	"slices"
	"testing"
	"time"
)

// A hinted organization whose probation found no member is tried again
// after a backoff that doubles up to the retry bound, never more than
// probationMax at once.
func TestProbationRetriesWithBackoff(t *testing.T) {
	dur, retry := 5*time.Second, time.Minute
	p := newProbation(dur, retry)
	never := func(string) bool { return false }
	t0 := time.Unix(1e9, 0)
	hints := []string{"a", "b", "c", "d", "e", "f"}
	if got := p.update(t0, hints, never); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("first probations: %v", got)
	}
	// Each failure waits dur, 2 dur, 4 dur ... then retry at most.
	at := t0
	for _, wait := range []time.Duration{dur, 2 * dur, 4 * dur, 8 * dur, retry, retry} {
		at = at.Add(dur + time.Millisecond) // the probation ends without a member
		if got := p.update(at, []string{"a"}, never); slices.Contains(got, "a") {
			t.Fatalf("a still on probation after its time: %v", got)
		}
		if got := p.update(at.Add(wait-2*time.Millisecond), []string{"a"}, never); slices.Contains(got, "a") {
			t.Fatalf("a tried again before its backoff of %v", wait)
		}
		at = at.Add(wait + time.Millisecond)
		if got := p.update(at, []string{"a"}, never); !slices.Contains(got, "a") {
			t.Fatalf("a not tried again after its backoff of %v: %v", wait, got)
		}
	}
	// A counted organization leaves probation at once.
	if got := p.update(at, []string{"a"}, func(o string) bool { return o == "a" }); slices.Contains(got, "a") {
		t.Fatalf("a counted but still on probation: %v", got)
	}
}
