package node

import (
	"bytes"
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
	f.Add([]byte(`{"k":"dir","os":[` + string(bytes.Repeat([]byte(`"a",`), 70)) + `"a"]}`))
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

func FuzzParsePeerQuery(f *testing.F) {
	f.Add("acme", "alive")
	f.Add("", "")
	f.Add("ACME", "dead")
	f.Fuzz(func(t *testing.T, org, state string) {
		flt, err := ParsePeerQuery(org, state)
		if err == nil && org != "" && !ValidOrgName(flt.Org) {
			t.Fatalf("accepted org %q", org)
		}
	})
}
