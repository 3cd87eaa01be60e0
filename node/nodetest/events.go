package nodetest

import (
	"slices"
	"sync"

	"github.com/orgpeer/orgpeer/node/api"
)

// EventLog collects the events a node streams (the f of api.Client.Events).
// It is safe for concurrent use.
type EventLog struct {
	mu  sync.Mutex
	evs []api.Event
}

// Add appends e; it never fails.
func (l *EventLog) Add(e api.Event) error {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	return nil
}

// All returns a copy of the events so far.
func (l *EventLog) All() []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// Find returns the first event at index from or later that ok accepts, and
// its index (-1 and a zero event when none does).
func (l *EventLog) Find(from int, ok func(api.Event) bool) (api.Event, int) {
	evs := l.All()
	for i := from; i < len(evs); i++ {
		if ok(evs[i]) {
			return evs[i], i
		}
	}
	return api.Event{}, -1
}
