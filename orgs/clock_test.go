package orgs

import (
	"testing"
	"time"
)

func TestFresh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		sent time.Duration // relative to now
		want bool
	}{
		{0, true},
		{-10 * time.Second, true},
		{-12 * time.Second, true}, // maxAge plus a slow sender clock
		{-13 * time.Second, false},
		{2 * time.Second, true}, // a fast sender clock
		{3 * time.Second, false},
		{-time.Hour, false},
	} {
		if got := Fresh(now.Add(tc.sent), now, 10*time.Second, 2*time.Second); got != tc.want {
			t.Errorf("sent %v from now: fresh %v, want %v", tc.sent, got, tc.want)
		}
	}
}
