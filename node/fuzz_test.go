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
	tr.AddID(string(k.ID))
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
