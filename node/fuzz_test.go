package node

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/orgs"
)

// Fuzz targets for every decoder of network input and for the API's query
// parsing. `make test` runs their seed corpora; `make fuzz` explores.

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
		if len(m.Addrs) > maxAddrs || len(m.Orgs) > maxDirOrgs || len(m.Host) > maxHostLen || len(m.Cred) > maxCredLen ||
			len(m.CredID) != 0 && len(m.CredID) != orgs.CredentialIDLen {
			t.Fatalf("bounds not enforced: %+v", m)
		}
		if _, err := DecodeMessage(m.Encode(), 1<<20); err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
	})
}

func FuzzVerifyCredential(f *testing.F) {
	k, _ := orgs.NewOrgKey("acme")
	p := "12D3KooWNL1F9qQjxzQCKEMwCKNxvGtLhGojjHLxsiAQrf8bQrK3"
	id, _ := peer.Decode(p)
	cred, _ := k.Issue(id, time.Unix(1e9, 0), time.Hour, 1)
	rev, _ := k.SignRevocation(&orgs.Revocation{Seq: 1, Serials: []uint64{1}})
	f.Add(cred)
	f.Add(rev)
	f.Add([]byte{})
	tr := orgs.NewTrust()
	tr.AddSpec(string(k.ID))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, verified, reason := tr.Verify(data, p, "acme", time.Unix(1e9, 0).Add(time.Minute))
		if verified && reason != "" {
			t.Fatal("verified with a reason")
		}
		if verified && !bytes.Equal(data, cred) {
			t.Fatal("a credential the org never issued verified")
		}
		tr.ApplyRevocation(data)
	})
}

func TestMessageEncoding(t *testing.T) {
	m := &Message{Kind: KindHeartbeat, Org: "acme", Epoch: 3, Seq: 1234, Host: "host-1",
		CredID: orgs.CredentialID([]byte("c")), Want: true}
	b := m.Encode()
	if len(b) > 40 {
		t.Errorf("a compact heartbeat takes %d bytes", len(b))
	}
	got, err := DecodeMessage(b, 4096)
	if err != nil || got.Kind != m.Kind || got.Org != m.Org || got.Epoch != m.Epoch || got.Seq != m.Seq ||
		got.Host != m.Host || !bytes.Equal(got.CredID, m.CredID) || !got.Want || got.Cred != nil || got.Peer != "" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// Unknown fields are skipped: a later version may add some.
	if got, err := DecodeMessage(append(b, 0xf8, 0x01, 0x05), 4096); err != nil || got.Seq != 1234 { // field 31, varint 5
		t.Fatalf("unknown field: %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"no kind":         (&Message{Org: "acme", Epoch: 1, Seq: 1}).Encode(),
		"kind as bytes":   {0x0a, 0x01, 'x'},
		"truncated":       b[:len(b)-3],
		"control in host": (&Message{Kind: KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Host: "a\x1b[2Jb"}).Encode(),
	} {
		if _, err := DecodeMessage(bad, 4096); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
