package wire

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/orgpeer/orgpeer/orgs"
)

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range []*Message{
		{Kind: KindHeartbeat, Peer: "12D3KooWNL1F9qQjxzQCKEMwCKNxvGtLhGojjHLxsiAQrf8bQrK3", Org: "acme", Epoch: 1, Seq: 2,
			Host: "h", Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Cred: []byte{1, 2, 3}},
		{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 3, Host: "h", CredID: orgs.CredentialID([]byte{1, 2, 3}), Want: true},
		{Kind: KindLeave, Peer: "12D3KooWNL1F9qQjxzQCKEMwCKNxvGtLhGojjHLxsiAQrf8bQrK3", Org: "acme", Epoch: 1, Seq: 3},
		{Kind: KindDirectory, Peer: "12D3KooWNL1F9qQjxzQCKEMwCKNxvGtLhGojjHLxsiAQrf8bQrK3", Orgs: []string{"acme", "globex"}},
		{Kind: KindRevoke, Peer: "12D3KooWNL1F9qQjxzQCKEMwCKNxvGtLhGojjHLxsiAQrf8bQrK3", Org: "acme", Rev: []byte("x")},
	} {
		f.Add(m.Encode())
	}
	f.Add([]byte(`{"k":"hb","p":"","a":[""]}`))
	f.Add((&Message{Kind: KindDirectory, Orgs: slices.Repeat([]string{"a"}, 70)}).Encode())
	f.Add((&Message{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Host: "a\x00b"}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data, 4096)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		// Whatever is accepted respects the bounds and survives a round trip.
		if len(m.Addrs) > MaxAddrs || len(m.Orgs) > MaxDirOrgs || len(m.Host) > MaxHostLen || len(m.Cred) > maxCredLen ||
			len(m.CredID) != 0 && len(m.CredID) != orgs.CredentialIDLen {
			t.Fatalf("bounds not enforced: %+v", m)
		}
		if _, err := DecodeMessage(m.Encode(), 1<<20); err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
	})
}

func TestMessageEncoding(t *testing.T) {
	m := &Message{Kind: KindHeartbeat, Org: "acme", Epoch: 3, Seq: 1234, Host: "host-1",
		CredID: orgs.CredentialID([]byte("c")), Want: true, Sent: 1700000000123, Level: 12, Round: 340000024}
	b := m.Encode()
	if len(b) > 56 { // 48 before the sampling level and round
		t.Errorf("a compact heartbeat takes %d bytes", len(b))
	}
	got, err := DecodeMessage(b, 4096)
	if err != nil || got.Kind != m.Kind || got.Org != m.Org || got.Epoch != m.Epoch || got.Seq != m.Seq ||
		got.Host != m.Host || !bytes.Equal(got.CredID, m.CredID) || !got.Want || got.Sent != m.Sent || got.Cred != nil || got.Peer != "" ||
		got.Level != m.Level || got.Round != m.Round {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	census := &Message{Kind: KindCensus, Org: "acme", Round: 7, Sent: 1, Cred: []byte{1}, Level: 12, Samples: 1700, LowMilli: 9_500_000, PeersMilli: 10_000_000, HighMilli: 10_500_000}
	if got, err := DecodeMessage(census.Encode(), 4096); err != nil || got.Kind != KindCensus || got.PeersMilli != census.PeersMilli || got.Samples != 1700 || got.Round != 7 {
		t.Fatalf("census round trip: %+v, %v", got, err)
	}
	// Unknown fields are skipped: a later version may add some.
	if got, err := DecodeMessage(append(b, 0xf8, 0x01, 0x05), 4096); err != nil || got.Seq != 1234 { // field 31, varint 5
		t.Fatalf("unknown field: %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"no kind":                   (&Message{Org: "acme", Epoch: 1, Seq: 1}).Encode(),
		"kind as bytes":             {0x0a, 0x01, 'x'},
		"truncated":                 b[:len(b)-3],
		"control in host":           (&Message{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Host: "a\x1b[2Jb"}).Encode(),
		"census without credential": (&Message{Kind: KindCensus, Org: "acme", Round: 5, Sent: 1, PeersMilli: 1}).Encode(),
		"census outside interval":   (&Message{Kind: KindCensus, Org: "acme", Round: 5, Sent: 1, Cred: []byte{1}, LowMilli: 5, PeersMilli: 4, HighMilli: 6}).Encode(),
		"level beyond bound":        (&Message{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Level: MaxLevel + 1}).Encode(),
		// A level of 2^32+5 must not wrap into a small, valid one.
		"level wrapping": append((&Message{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1}).Encode(), 0x70, 0x85, 0x80, 0x80, 0x80, 0x10),
	} {
		if _, err := DecodeMessage(bad, 4096); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestProtoSchemaMatchesCodec pins the wire format: orgpeer.proto declares
// these field numbers, and a Message with every field set encodes to them,
// in order, each with the wire type of its .proto type and the value the
// .proto promises (kind as its enum number).
func TestProtoSchemaMatchesCodec(t *testing.T) {
	proto, err := os.ReadFile("orgpeer.proto")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)message Message \{(.*?)\n\}`).FindSubmatch(proto)
	if body == nil {
		t.Fatal("orgpeer.proto has no message Message")
	}
	var declared []string
	wireType := map[protowire.Number]protowire.Type{} // by the .proto type: varint for enums, integers and bools
	for _, f := range regexp.MustCompile(`(?m)^\s*(?:repeated )?(\w+) (\w+) = (\d+);`).FindAllSubmatch(body[1], -1) {
		declared = append(declared, string(f[2])+"="+string(f[3]))
		num, _ := strconv.Atoi(string(f[3]))
		wireType[protowire.Number(num)] = protowire.VarintType
		if t := string(f[1]); t == "string" || t == "bytes" {
			wireType[protowire.Number(num)] = protowire.BytesType
		}
	}
	if want := "kind=1 peer=2 org=3 epoch=4 seq=5 host=6 addrs=7 orgs=8 cred=9 cred_id=10 want=11 rev=12 sent=13 level=14 round=15 samples=16 peers_milli=17 low_milli=18 high_milli=19"; strings.Join(declared, " ") != want {
		t.Fatalf("orgpeer.proto declares %v, want %s", declared, want)
	}
	for kind, code := range map[string]string{KindHeartbeat: "HEARTBEAT = 1", KindLeave: "LEAVE = 2", KindDirectory: "DIRECTORY = 3", KindRevoke: "REVOKE = 4", KindCensus: "CENSUS = 5"} {
		if !bytes.Contains(proto, []byte(code+";")) || kindCodes[kind] != uint64(code[len(code)-1]-'0') {
			t.Errorf("kind %q: the .proto and the codec disagree on %q", kind, code)
		}
	}

	m := &Message{Kind: KindRevoke, Peer: "p", Org: "o", Epoch: 300, Seq: 5, Host: "h", Addrs: []string{"a1", "a2"},
		Orgs: []string{"x"}, Cred: []byte{0xc1}, CredID: []byte{0xd1}, Want: true, Rev: []byte{0xe1, 0xe2}, Sent: 1700000000123, Level: 9, Round: 340000000,
		Samples: 1700, PeersMilli: 100000000, LowMilli: 95000000, HighMilli: 105000000}
	b := m.Encode()
	var got []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		b = b[n:]
		var v string
		switch typ {
		case protowire.VarintType:
			x, n2 := protowire.ConsumeVarint(b)
			v, n = strconv.FormatUint(x, 10), n2
		case protowire.BytesType:
			x, n2 := protowire.ConsumeBytes(b)
			v, n = fmt.Sprintf("%x", x), n2
		default:
			t.Fatalf("field %d has wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		b = b[n:]
		if want, ok := wireType[num]; !ok || typ != want {
			t.Errorf("field %d has wire type %d; orgpeer.proto's type for it has %d (declared %v)", num, typ, want, ok)
		}
		got = append(got, fmt.Sprintf("%d/%d:%s", num, typ, v))
	}
	wantBytes := []string{"1/0:4", "2/2:70", "3/2:6f", "4/0:300", "5/0:5", "6/2:68", "7/2:6131", "7/2:6132",
		"8/2:78", "9/2:c1", "10/2:d1", "11/0:1", "12/2:e1e2", "13/0:1700000000123", "14/0:9", "15/0:340000000",
		"16/0:1700", "17/0:100000000", "18/0:95000000", "19/0:105000000"}
	if !slices.Equal(got, wantBytes) {
		t.Fatalf("encoded fields %v, want %v", got, wantBytes)
	}
	// The first bytes to the letter: tag (1<<3|0) then varint 4, tag (2<<3|2), length 1, "p".
	if head := m.Encode()[:5]; !bytes.Equal(head, []byte{0x08, 0x04, 0x12, 0x01, 'p'}) {
		t.Fatalf("first bytes % x", head)
	}
}
