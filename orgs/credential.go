package orgs

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// Membership is an organization's statement that a peer belongs to it. It
// travels sealed in a libp2p signed envelope (core/record), signed by the
// org key, under its own signature domain and payload type.
type Membership struct {
	OrgID     OrgID     `json:"org_id"`
	OrgName   string    `json:"org"`
	PeerID    string    `json:"peer"`
	NotBefore time.Time `json:"nbf"`
	NotAfter  time.Time `json:"exp"`
	Serial    uint64    `json:"serial"`
}

const (
	membershipDomain = "orgpeer-membership"
	revocationDomain = "orgpeer-revocation"
)

var (
	membershipCodec = []byte("/orgpeer/membership/1")
	revocationCodec = []byte("/orgpeer/revocation/1")
)

// Domain implements record.Record.
func (*Membership) Domain() string { return membershipDomain }

// Codec implements record.Record.
func (*Membership) Codec() []byte { return membershipCodec }

// MarshalRecord implements record.Record.
func (m *Membership) MarshalRecord() ([]byte, error) { return json.Marshal(m) }

// UnmarshalRecord implements record.Record.
func (m *Membership) UnmarshalRecord(b []byte) error { return json.Unmarshal(b, m) }

// RandomSerial returns a random serial number for a credential.
func RandomSerial() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 1
}

// Issue seals a membership credential for the peer, valid from notBefore
// for the given duration.
func (k *OrgKey) Issue(p peer.ID, notBefore time.Time, valid time.Duration, serial uint64) ([]byte, error) {
	m := &Membership{OrgID: k.ID, OrgName: k.Name, PeerID: p.String(),
		NotBefore: notBefore.UTC().Truncate(time.Second), NotAfter: notBefore.Add(valid).UTC().Truncate(time.Second), Serial: serial}
	env, err := record.Seal(m, k.Priv)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// OpenCredential checks a credential's envelope signature and that the org ID
// it claims is the key that signed it. It does not check trust, validity
// period or revocation: see Trust.Verify.
func OpenCredential(b []byte) (*Membership, error) {
	var m Membership
	if err := openSealed(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// openSealed opens an envelope of rec's type and checks that the record's
// org ID is the signer. rec must be a *Membership or a *Revocation.
func openSealed(b []byte, rec interface {
	record.Record
	orgID() OrgID
}) error {
	env, err := record.ConsumeTypedEnvelope(b, rec)
	if err != nil {
		return fmt.Errorf("bad signature or envelope: %w", err)
	}
	if !bytes.Equal(env.PayloadType, rec.Codec()) {
		return fmt.Errorf("payload type %q, want %q", env.PayloadType, rec.Codec())
	}
	signer, err := OrgIDFromKey(env.PublicKey)
	if err != nil {
		return err
	}
	if signer != rec.orgID() {
		return fmt.Errorf("signed by %s, not by the org key %s", signer, rec.orgID())
	}
	return nil
}

func (m *Membership) orgID() OrgID { return m.OrgID }

// ValidAt says why m is not valid at t ("" when it is).
func (m *Membership) ValidAt(t time.Time) string {
	switch {
	case t.Before(m.NotBefore):
		return "not yet valid"
	case !t.Before(m.NotAfter):
		return "expired"
	}
	return ""
}
