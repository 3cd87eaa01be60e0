package orgs

import "time"

// Clock tells the time. The view takes one so that tests can drive expiry.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Version orders the announcements of one peer. Epoch grows on every start of
// the peer (it is persisted beside its identity), Seq on every message within
// one run, so a restarted peer is never taken for a replay of its old self.
type Version struct {
	Epoch uint64 `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	if v.Epoch != o.Epoch {
		return v.Epoch < o.Epoch
	}
	return v.Seq < o.Seq
}

// Fresh reports whether a message sent at sent (the sender's clock) may be
// taken at now: at most maxAge old, either clock off by up to maxSkew, since
// a send time further off is a replay or a clock too wrong to tell one.
func Fresh(sent, now time.Time, maxAge, maxSkew time.Duration) bool {
	age := now.Sub(sent)
	return age >= -maxSkew && age <= maxAge+maxSkew
}
