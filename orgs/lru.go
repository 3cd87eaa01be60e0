package orgs

// lru is a map that keeps its entries in order of last use, so that a
// bounded memory can drop the least recently used one, one at a time. It
// is not safe for concurrent use: its owner's lock guards it.
type lru[K comparable, V any] struct {
	max  int
	m    map[K]*lruNode[K, V]
	root lruNode[K, V] // root.next is the most recently used entry, root.prev the least
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruNode[K, V]
}

// newLRU returns an empty map of at most max entries.
func newLRU[K comparable, V any](max int) *lru[K, V] {
	l := &lru[K, V]{max: max, m: map[K]*lruNode[K, V]{}}
	l.root.prev, l.root.next = &l.root, &l.root
	return l
}

// get returns k's value; use makes k the most recently used entry.
func (l *lru[K, V]) get(k K, use bool) (V, bool) {
	n, ok := l.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	if use {
		l.touch(n)
	}
	return n.val, true
}

// put sets k's value and makes it the most recently used entry. Past max it
// drops the least recently used entry.
func (l *lru[K, V]) put(k K, v V) {
	if n, had := l.m[k]; had {
		n.val = v
		l.touch(n)
		return
	}
	n := &lruNode[K, V]{key: k, val: v}
	l.m[k] = n
	l.pushFront(n)
	if len(l.m) > l.max {
		l.remove(l.root.prev.key)
	}
}

// trim drops the least recently used entries for as long as expired says so
// of their value.
func (l *lru[K, V]) trim(expired func(V) bool) {
	for n := l.root.prev; n != &l.root && expired(n.val); n = l.root.prev {
		l.remove(n.key)
	}
}

// remove drops k.
func (l *lru[K, V]) remove(k K) {
	if n, ok := l.m[k]; ok {
		l.unlink(n)
		delete(l.m, k)
	}
}

// each calls f on every entry, most recently used first.
func (l *lru[K, V]) each(f func(K, V)) {
	for n := l.root.next; n != &l.root; n = n.next {
		f(n.key, n.val)
	}
}

// touch makes n the most recently used entry.
func (l *lru[K, V]) touch(n *lruNode[K, V]) {
	l.unlink(n)
	l.pushFront(n)
}

func (l *lru[K, V]) unlink(n *lruNode[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (l *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = &l.root, l.root.next
	l.root.next.prev = n
	l.root.next = n
}
