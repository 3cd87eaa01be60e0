package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// Push-pull on join, as a memberlist node exchanges its whole state with
// the node it joins: a starting node asks the first peer it meets (its
// seed when it has one) on wire.PushPullProtocol for that peer's view and
// counts every member at once, instead of one by one as their heartbeats
// come through the GossipSub mesh.
//
// The view travels as the members' own heartbeats, in the pubsub envelopes
// they signed (author, topic, data, signature), each with the member's
// credential when the heartbeat names it by ID only; the credential is
// signed by the organization's key and names the member. The newcomer
// checks each as the topic validator does: the envelope's signature and
// topic, then the heartbeat (its author, kind, organization, send time,
// version and credential, validator.checkHeartbeat). Nothing is taken on
// the answering peer's word: it can withhold members, never add one.
//
// The newcomer opens the stream with its own heartbeat, signed the same
// way, and the peer it asked counts it from that and passes it on at once
// to a few of its neighbours (pushJoinPassOn), who count it too. Each node
// to which the join is news passes it on in turn, once per epoch of the
// newcomer, as memberlist gossips a join: a node that restarts is counted
// everywhere within a few hops, before its mesh forms. With each node
// passing it to 6 others, a node misses it with probability about e^-6
// (0.25 %); the newcomer's heartbeats still reach those. A node that is
// itself starting passes no join on but the ones it answers: when a whole
// cluster starts at once, every node would pass every other's join, and
// on a few cores those streams slowed the start (docs/perf-log.md, third
// session).
//
// Bounds: a node asks at most pushPullAsks peers, only while it starts,
// and stops at the first answer; an answer holds the freshest
// pushPullMaxRecords heartbeats within pushPullMaxBytes, each sent within
// pushPullMaxAge; a node answers at most pushPullRate asks a second
// (burst pushPullBurst) and passes on each peer's join once per epoch; the
// reader of a stream refuses more than those bounds, unsigned or
// wrongly signed envelopes, and stale heartbeats, and counts what it
// refused (orgpeer_push_pull_total and orgpeer_messages_total).
const (
	pushPullMaxRecords = 512             // heartbeats in one answer at most
	pushPullMaxBytes   = 256 << 10       // bytes of one answer at most
	pushPullRate       = 4               // answers a node gives per second, on average
	pushPullBurst      = 16              // answers it may give at once
	pushPullPassOn     = 4               // neighbours a leave is passed on to
	pushJoinPassOn     = 6               // neighbours a join is passed on to (see passOn)
	pushPullSends      = 16              // passes on in flight at most; more are dropped
	pushPullAsks       = 3               // peers a starting node asks at most
	pushPullTimeout    = 5 * time.Second // bound on one exchange
	pushPullSlack      = time.Second     // pushPullMaxAge beyond a heartbeat interval
	pushPullCredMax    = 1024            // bytes of a credential in a record
	pushPullEnvelope   = 512             // bytes of an envelope beyond its data: author, seqno, topic, signature, key
	pushPullJoin       = byte(1)         // stream mode: a join, answered with the view
	pushPullPass       = byte(2)         // stream mode: a join or a leave passed on, not answered
)

// pushPull asks for views, answers asks and passes joins on.
type pushPull struct {
	host     host.Host
	priv     crypto.PrivKey
	view     *orgs.View
	beats    *heartbeats
	valid    *validator
	recv     *receiver
	follows  func(org string) bool
	followed func() // the view gained organizations: follow their topics soon
	seeds    []peer.ID
	maxAge   time.Duration // a heartbeat sent longer ago is not exchanged
	maxData  int           // Config.MaxMessageSize
	startup  time.Duration // asks are made only this long after start
	started  time.Time
	metrics  *prometheus.CounterVec // event
	log      *slog.Logger

	answers *rate.Limiter
	env     *envelopes
	ctx     context.Context // the node's: bounds the passes on

	sendMu  sync.Mutex
	sends   *pool // passes on in flight; under sendMu
	closing bool  // no more sends; under sendMu

	mu     sync.Mutex
	passed map[peer.ID]uint64 // the epoch of each peer whose join was passed on; under mu
	maxMem int
}

func newPushPull(cfg *Config, h host.Host, priv crypto.PrivKey, view *orgs.View, env *envelopes,
	metrics *prometheus.CounterVec, log *slog.Logger) *pushPull {
	pp := &pushPull{host: h, priv: priv, view: view, env: env, metrics: metrics, log: log,
		maxAge: cfg.HeartbeatInterval + pushPullSlack, maxData: cfg.MaxMessageSize,
		startup: cfg.StartupPeriod(), started: time.Now(), answers: rate.NewLimiter(pushPullRate, pushPullBurst),
		ctx: context.Background(), sends: newPool(pushPullSends), passed: map[peer.ID]uint64{}, maxMem: cfg.MaxKnownPeers}
	seeds, _ := parseSeeds(cfg.Bootstrap) // checked by Validate
	for _, a := range seeds {
		if ai, err := peer.AddrInfoFromP2pAddr(a); err == nil {
			pp.seeds = append(pp.seeds, ai.ID)
		}
	}
	return pp
}

// record is one member's heartbeat as exchanged: the envelope its author
// signed and, for a compact heartbeat, its credential.
type record struct {
	env  *pb.Message
	cred []byte
}

// run asks for a view while the node starts: of each peer that speaks
// wire.PushPullProtocol, as identify reports it (peers identified before
// run subscribed included), seeds first, until one answers or pushPullAsks
// were asked. It returns when ctx ends or asking is over.
func (pp *pushPull) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := pp.host.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted), eventbus.Name("orgpeer-push-pull"))
	if err != nil {
		pp.log.Warn("no push-pull: cannot watch identifications", "err", err)
		return
	}
	defer sub.Close()
	asks := newPool(1)
	defer asks.wait()
	var mu sync.Mutex
	asked, answered := map[peer.ID]bool{}, false
	consider := func(id peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case answered || len(asked) >= pushPullAsks || time.Since(pp.started) > pp.startup:
			cancel()
			return
		case asked[id]:
			return
		case len(asked) == 0 && len(pp.seeds) > 0 && !slices.Contains(pp.seeds, id):
			return // the first ask is a seed's
		}
		if ok, err := pp.host.Peerstore().SupportsProtocols(id, wire.PushPullProtocol); err != nil || len(ok) == 0 {
			return
		}
		if asks.try(func() {
			ok := pp.ask(ctx, id)
			mu.Lock()
			answered = answered || ok
			mu.Unlock()
		}) {
			asked[id] = true
		}
	}
	for _, id := range pp.host.Network().Peers() {
		consider(id)
	}
	// Until the start-up ends: a seed that did not answer leaves the
	// asks to the peers identified later.
	end := time.NewTimer(max(pp.startup-time.Since(pp.started), 0))
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			consider(e.(event.EvtPeerIdentificationCompleted).Peer)
		}
	}
}

// ask opens a push-pull stream to peer: this node's own signed heartbeat
// goes out, the peer's view comes back. It reports whether an answer came.
func (pp *pushPull) ask(ctx context.Context, to peer.ID) bool {
	own, err := pp.ownRecord()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, pushPullTimeout)
	defer cancel()
	s, err := pp.host.NewStream(ctx, to, wire.PushPullProtocol)
	if err != nil {
		return false
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(pushPullTimeout))
	if _, err := s.Write(append([]byte{pushPullJoin}, encodeRecord(nil, own)...)); err != nil {
		s.Reset()
		return false
	}
	s.CloseWrite()
	pp.metrics.WithLabelValues("asked").Inc()
	n, accepted, err := pp.readRecords(s, to, pushPullMaxRecords, pushPullMaxBytes)
	if err != nil {
		s.Reset()
		pp.metrics.WithLabelValues("bad-answer").Inc()
	}
	if n == 0 && err == nil {
		pp.metrics.WithLabelValues("refused").Inc() // busy, or nothing to tell
		return false
	}
	pp.metrics.WithLabelValues("answered").Inc()
	if accepted > 0 {
		pp.followed()
	}
	pp.log.Debug("push-pull", "peer", to, "records", n, "accepted", accepted)
	return true
}

// handle answers a push-pull stream: counts the opener's heartbeat, and for
// a join answers with this node's view, within its rate, and passes the
// join on.
func (pp *pushPull) handle(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(pushPullTimeout))
	from := s.Conn().RemotePeer()
	r := bufio.NewReader(io.LimitReader(s, int64(1+pp.maxRecord()+binary.MaxVarintLen64)))
	mode, err := r.ReadByte()
	if err != nil || mode != pushPullJoin && mode != pushPullPass {
		s.Reset()
		pp.metrics.WithLabelValues("bad-request").Inc()
		return
	}
	rec, err := pp.readRecord(r)
	if err != nil {
		s.Reset()
		pp.metrics.WithLabelValues("bad-request").Inc()
		return
	}
	author, _ := peer.IDFromBytes(rec.env.GetFrom())
	if mode == pushPullJoin && author != from {
		s.Reset() // a join is the opener's own
		pp.metrics.WithLabelValues("bad-request").Inc()
		return
	}
	if mode == pushPullPass {
		pp.metrics.WithLabelValues("passed-in").Inc()
		pp.judgeKinds(rec, from, true)
		return
	}
	epoch, pass := pp.joinToPass(rec, from)
	if !pp.answers.Allow() {
		pp.metrics.WithLabelValues("busy").Inc()
		return // no answer: the newcomer asks another peer
	}
	w := bufio.NewWriter(s)
	n := pp.writeView(w, from)
	if err := w.Flush(); err != nil {
		s.Reset()
		return
	}
	pp.metrics.WithLabelValues("answered-in").Inc()
	pp.log.Debug("push-pull answered", "peer", from, "records", n)
	if pass {
		pp.passOn(from, epoch, rec, "")
	}
}

// joinToPass judges a newcomer's join and reports whether to pass it on,
// and its epoch: when it was news, or when it was stale only because the
// newcomer's hello came first (this node counts it alive at that epoch),
// since the neighbours had neither.
func (pp *pushPull) joinToPass(rec record, from peer.ID) (uint64, bool) {
	if r, ok := pp.judge(rec, from); ok {
		return r.Epoch, true
	}
	m, err := wire.DecodeMessage(rec.env.Data, pp.maxData)
	if err != nil || m.Kind != wire.KindHeartbeat || verifyEnvelope(rec.env) != nil {
		return 0, false
	}
	p, ok := pp.view.Get(from.String())
	return m.Epoch, ok && p.State == orgs.StateAlive && p.Version.Epoch == m.Epoch
}

// writeView writes this node's own signed heartbeat and, freshest first,
// the last heartbeat of each peer it counts alive, but to, within the
// answer's bounds. It returns how many records it wrote.
func (pp *pushPull) writeView(w io.Writer, to peer.ID) int {
	var buf []byte
	written, n := 0, 0
	put := func(rec record) bool {
		buf = encodeRecord(buf[:0], rec)
		if n >= pushPullMaxRecords || written+len(buf) > pushPullMaxBytes {
			return false
		}
		if _, err := w.Write(buf); err != nil {
			return false
		}
		written, n = written+len(buf), n+1
		return true
	}
	if own, err := pp.ownRecord(); err == nil && !put(own) {
		return n
	}
	for _, rec := range pp.env.fresh(pp.view, to.String(), time.Now().Add(-pp.maxAge), pp.valid.creds) {
		if !put(rec) {
			break
		}
	}
	return n
}

// passOn sends a newcomer's join, its signed heartbeat, to at most
// pushJoinPassOn neighbours chosen at random but via, once per epoch of the
// newcomer. It returns at once; the sends end within pushPullTimeout.
func (pp *pushPull) passOn(newcomer peer.ID, epoch uint64, rec record, via peer.ID) {
	pp.mu.Lock()
	if pp.passed[newcomer] >= epoch {
		pp.mu.Unlock()
		return
	}
	if len(pp.passed) >= pp.maxMem {
		clear(pp.passed)
	}
	pp.passed[newcomer] = epoch
	pp.mu.Unlock()
	data := append([]byte{pushPullPass}, encodeRecord(nil, rec)...)
	for _, p := range pp.neighbours(pushJoinPassOn, newcomer, via) {
		pp.send(p, data)
	}
}

// passLeave passes a signed leave that this node has just applied on to
// pushPullPassOn random neighbours but via and the leaver: a leave is said
// once, and a node that the GossipSub mesh does not reach at that moment
// (its mesh peers just crashed, or refused its grafts) would hear it only
// from IHAVE gossip a GossipSub heartbeat later, or never. Every node passes
// a leave on once, when the view applies it (later copies are stale), so a
// leave costs at most pushPullPassOn streams per node.
func (pp *pushPull) passLeave(env *pb.Message, r *received, via peer.ID) {
	leaver, err := peer.Decode(r.Peer)
	if err != nil {
		return
	}
	data := append([]byte{pushPullPass}, encodeRecord(nil, record{env: env})...)
	for _, p := range pp.neighbours(pushPullPassOn, via, leaver) {
		pp.send(p, data)
	}
	pp.metrics.WithLabelValues("leave-passed").Inc()
}

// sayLeave sends this node's leave, signed, to pushPullPassOn random
// neighbours, who pass it on (passLeave).
func (pp *pushPull) sayLeave(leave []byte) {
	topic := wire.OrgTopic(pp.beats.org)
	seq := make([]byte, 8)
	rand.Read(seq)
	env := &pb.Message{From: []byte(pp.host.ID()), Data: leave, Seqno: seq, Topic: &topic}
	if signEnvelope(pp.priv, env) != nil {
		return
	}
	data := append([]byte{pushPullPass}, encodeRecord(nil, record{env: env})...)
	for _, p := range pp.neighbours(pushPullPassOn, "", "") {
		pp.send(p, data)
	}
}

// neighbours returns at most n connected peers that speak
// wire.PushPullProtocol, but a and b, chosen at random.
func (pp *pushPull) neighbours(n int, a, b peer.ID) []peer.ID {
	var to []peer.ID
	for _, p := range pp.host.Network().Peers() {
		if p == a || p == b {
			continue
		}
		if ok, err := pp.host.Peerstore().SupportsProtocols(p, wire.PushPullProtocol); err == nil && len(ok) > 0 {
			to = append(to, p)
		}
	}
	mrand.Shuffle(len(to), func(i, j int) { to[i], to[j] = to[j], to[i] })
	return to[:min(len(to), n)]
}

// send writes data on a new push-pull stream to peer, unless every send
// slot is busy or the node is closing.
func (pp *pushPull) send(to peer.ID, data []byte) {
	pp.sendMu.Lock()
	defer pp.sendMu.Unlock()
	if pp.closing {
		return
	}
	ok := pp.sends.try(func() {
		ctx, cancel := context.WithTimeout(pp.ctx, pushPullTimeout)
		defer cancel()
		s, err := pp.host.NewStream(ctx, to, wire.PushPullProtocol)
		if err != nil {
			return
		}
		s.SetDeadline(time.Now().Add(pushPullTimeout))
		if _, err := s.Write(data); err != nil {
			s.Reset()
			return
		}
		s.Close()
		pp.metrics.WithLabelValues("passed-out").Inc()
	})
	if !ok {
		pp.metrics.WithLabelValues("pass-dropped").Inc()
	}
}

// close ends the sends and waits for those in flight; the node's context
// must have ended.
func (pp *pushPull) close() {
	pp.sendMu.Lock()
	pp.closing = true
	pp.sendMu.Unlock()
	pp.sends.wait()
}

// maxRecord is the longest record a reader accepts.
func (pp *pushPull) maxRecord() int { return pp.maxData + pushPullEnvelope + pushPullCredMax + 16 }

// readRecords reads and judges records from an answer until its end, at
// most max records in maxBytes. It returns how many it read and accepted;
// err says the answer broke a bound or was garbled (what came before
// counts).
func (pp *pushPull) readRecords(s io.Reader, via peer.ID, max, maxBytes int) (n, accepted int, err error) {
	r := bufio.NewReader(io.LimitReader(s, int64(maxBytes)+1))
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return n, accepted, nil
		}
		if n >= max {
			return n, accepted, errors.New("too many records")
		}
		rec, err := pp.readRecord(r)
		if err != nil {
			return n, accepted, err
		}
		n++
		if _, ok := pp.judge(rec, via); ok {
			accepted++
		}
	}
}

var errRecord = errors.New("malformed push-pull record")

// readRecord reads one length-prefixed record: field 1 the envelope
// (pubsub's Message), field 2 the credential.
func (pp *pushPull) readRecord(r *bufio.Reader) (record, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil || size == 0 || size > uint64(pp.maxRecord()) {
		return record{}, errRecord
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return record{}, errRecord
	}
	var rec record
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return record{}, errRecord
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return record{}, errRecord
		}
		b = b[n:]
		switch num {
		case 1:
			rec.env = &pb.Message{}
			if proto.Unmarshal(v, rec.env) != nil || len(rec.env.Data) > pp.maxData {
				return record{}, errRecord
			}
		case 2:
			if len(v) > pushPullCredMax {
				return record{}, errRecord
			}
			rec.cred = slices.Clone(v)
		}
	}
	if rec.env == nil {
		return record{}, errRecord
	}
	return rec, nil
}

// encodeRecord appends rec, length-prefixed, to b.
func encodeRecord(b []byte, rec record) []byte {
	env, _ := proto.Marshal(rec.env)
	var body []byte
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendBytes(body, env)
	if len(rec.cred) > 0 {
		body = protowire.AppendTag(body, 2, protowire.BytesType)
		body = protowire.AppendBytes(body, rec.cred)
	}
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// judge checks a record as the topic's validator checks a message, and
// applies it to the view when it passes: the envelope's signature, that
// its topic is its heartbeat's organization's, one the node follows, then
// validator.judge and checkHeartbeat. A compact heartbeat borrows the
// record's credential when the credential's ID is the one it names.
// Verdicts are counted in orgpeer_messages_total, as the topic's are.
func (pp *pushPull) judge(rec record, via peer.ID) (*received, bool) {
	return pp.judgeKinds(rec, via, false)
}

// judgeKinds is judge; passed says that the record was passed on to this
// node (a join or a leave), not part of an answer: a signed leave is
// welcome too, checked as the topic checks one, applied, and passed on
// further when it was news; so is a join that was news, once this node has
// started (see pushJoinPassOn).
func (pp *pushPull) judgeKinds(rec record, via peer.ID, passed bool) (*received, bool) {
	author, err := peer.IDFromBytes(rec.env.GetFrom())
	if err != nil || verifyEnvelope(rec.env) != nil {
		pp.valid.verdict(via, pubsub.ValidationReject, "bad-signature")
		pp.metrics.WithLabelValues("refused-record").Inc()
		return nil, false
	}
	if author == pp.host.ID() {
		return nil, false // this node's own, back
	}
	r, res, reason := pp.valid.judge(via, author, rec.env.Data, func(r *received) (pubsub.ValidationResult, string) {
		switch {
		case r.Kind != wire.KindHeartbeat && (r.Kind != wire.KindLeave || !passed):
			return pubsub.ValidationReject, "wrong-kind"
		case rec.env.GetTopic() != wire.OrgTopic(r.Org):
			return pubsub.ValidationReject, "wrong-topic"
		case !pp.follows(r.Org):
			return pubsub.ValidationIgnore, "not-followed"
		case r.Kind == wire.KindLeave:
			return pp.valid.checkLeave(r)
		case time.Since(time.UnixMilli(r.Sent)) > pp.maxAge:
			return pubsub.ValidationIgnore, "not-fresh"
		}
		if len(r.Cred) == 0 && len(rec.cred) > 0 && bytes.Equal(r.CredID, orgs.CredentialID(rec.cred)) {
			r.Cred = rec.cred
		}
		return pp.valid.checkHeartbeat(r)
	})
	pp.valid.verdict(author, res, reason)
	if res != pubsub.ValidationAccept {
		pp.metrics.WithLabelValues("refused-record").Inc()
		return nil, false
	}
	pp.metrics.WithLabelValues("accepted-record").Inc()
	if r.Kind == wire.KindLeave {
		if pp.recv.leave(r, via, false) {
			pp.passLeave(rec.env, r, via)
		}
		return r, true
	}
	news := pp.recv.heartbeat(r, via, false)
	pp.env.put(r.Peer, rec.env, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}, r.Sent)
	if news && passed && time.Since(pp.started) >= pp.startup {
		pp.passOn(author, r.Epoch, rec, via) // a join passed on to this node, news to it: pass it on
	}
	return r, true
}

// ownRecord is this node's full heartbeat in an envelope it signs as
// pubsub signs its publications.
func (pp *pushPull) ownRecord() (record, error) {
	m := pp.beats.hello()
	if m == nil {
		return record{}, errors.New("leaving")
	}
	seq := make([]byte, 8)
	rand.Read(seq)
	topic := wire.OrgTopic(m.Org)
	env := &pb.Message{From: []byte(pp.host.ID()), Data: m.Encode(), Seqno: seq, Topic: &topic}
	if err := signEnvelope(pp.priv, env); err != nil {
		return record{}, err
	}
	return record{env: env}, nil
}

// signEnvelope signs env as go-libp2p-pubsub signs a message (its sign.go):
// the envelope without signature and key, after pubsub.SignPrefix; the key
// travels only when the author's ID does not embed it.
func signEnvelope(key crypto.PrivKey, env *pb.Message) error {
	env.Signature, env.Key = nil, nil
	b, err := proto.Marshal(env)
	if err != nil {
		return err
	}
	if env.Signature, err = key.Sign(append([]byte(pubsub.SignPrefix), b...)); err != nil {
		return err
	}
	if id, err := peer.IDFromBytes(env.From); err == nil {
		if pk, _ := id.ExtractPublicKey(); pk == nil {
			env.Key, err = crypto.MarshalPublicKey(key.GetPublic())
			return err
		}
	}
	return nil
}

// verifyEnvelope checks env's signature as go-libp2p-pubsub's StrictSign
// does (its sign.go): a sequence number, a signature by the author's key.
func verifyEnvelope(env *pb.Message) error {
	if len(env.Signature) == 0 || len(env.Seqno) != 8 {
		return errors.New("unsigned")
	}
	id, err := peer.IDFromBytes(env.From)
	if err != nil {
		return err
	}
	var pk crypto.PubKey
	if env.Key == nil {
		pk, err = id.ExtractPublicKey()
	} else if pk, err = crypto.UnmarshalPublicKey(env.Key); err == nil && !id.MatchesPublicKey(pk) {
		err = errors.New("key does not match the author")
	}
	if err != nil || pk == nil {
		return errors.New("no key")
	}
	x := &pb.Message{From: env.From, Data: env.Data, Seqno: env.Seqno, Topic: env.Topic}
	b, err := proto.Marshal(x)
	if err != nil {
		return err
	}
	ok, err := pk.Verify(append([]byte(pubsub.SignPrefix), b...), env.Signature)
	if err != nil || !ok {
		return errors.New("bad signature")
	}
	return nil
}

// envelopes keeps the last signed heartbeat of each peer, for answers.
// It may be used concurrently.
type envelopes struct {
	max int
	mu  sync.Mutex
	m   map[string]envelope
}

type envelope struct {
	env  *pb.Message
	ver  orgs.Version
	sent time.Time
}

func newEnvelopes(max int) *envelopes { return &envelopes{max: max, m: map[string]envelope{}} }

// put keeps env as peer's, unless a newer one is kept. When full it drops
// the envelopes sent longer ago than a minute, then refuses.
func (e *envelopes) put(peerID string, env *pb.Message, ver orgs.Version, sentMs int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.m[peerID]; ok && !old.ver.Less(ver) {
		return
	}
	sent := time.UnixMilli(sentMs)
	if _, ok := e.m[peerID]; !ok && len(e.m) >= e.max {
		old := time.Now().Add(-time.Minute)
		maps.DeleteFunc(e.m, func(_ string, v envelope) bool { return v.sent.Before(old) })
		if len(e.m) >= e.max {
			return
		}
	}
	// A copy: the pubsub message stays pubsub's.
	env = &pb.Message{From: env.From, Data: env.Data, Seqno: env.Seqno, Topic: env.Topic, Signature: env.Signature, Key: env.Key}
	e.m[peerID] = envelope{env: env, ver: ver, sent: sent}
}

// fresh returns, freshest first, the kept envelope of each peer the view
// counts alive at the version kept, sent after since, but not except's;
// each compact heartbeat with the credential it names, when known.
func (e *envelopes) fresh(view *orgs.View, except string, since time.Time, creds *orgs.PeerCredentials) []record {
	e.mu.Lock()
	type kept struct {
		id string
		envelope
	}
	var ks []kept
	for id, v := range e.m {
		if id != except && v.sent.After(since) {
			ks = append(ks, kept{id, v})
		}
	}
	e.mu.Unlock()
	slices.SortFunc(ks, func(a, b kept) int { return b.sent.Compare(a.sent) })
	out := make([]record, 0, len(ks))
	for _, k := range ks {
		p, ok := view.Get(k.id)
		if !ok || p.State != orgs.StateAlive || p.Version != k.ver {
			continue
		}
		rec := record{env: k.env}
		if m, err := wire.DecodeMessage(k.env.Data, math.MaxInt32); err == nil && len(m.Cred) == 0 && len(m.CredID) > 0 {
			rec.cred = creds.Recall(k.id, m.CredID)
		}
		out = append(out, rec)
	}
	return out
}
