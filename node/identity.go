package node

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/orgpeer/orgpeer/orgs"
)

const (
	identityFile = "identity.key"
	epochFile    = "epoch"
	lockFile     = "lock"
)

// LoadOrCreateIdentity returns the node's private key from dir, creating it
// (mode 0600) on first use. A file that exists but cannot be read as a key is
// an error: the node must never silently become a new peer.
func LoadOrCreateIdentity(dir string) (crypto.PrivKey, error) {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		raw, err := crypto.MarshalPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		if err := orgs.WriteFileAtomic(path, raw, 0o600); err != nil {
			return nil, fmt.Errorf("write identity: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	priv, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("identity file %s is corrupt (%v): restore it or remove it to become a new peer", path, err)
	}
	return priv, nil
}

// nextEpoch increments and returns the persisted boot counter.
func nextEpoch(dir string) (uint64, error) {
	path := filepath.Join(dir, epochFile)
	var n uint64
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, err
	default:
		if n, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return 0, fmt.Errorf("epoch file %s is corrupt: %v", path, err)
		}
	}
	n++
	return n, orgs.WriteFileAtomic(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600)
}

// lockDataDir takes an exclusive lock on dir so that two processes never run
// as the same peer. The lock goes with the returned file.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another orgpeer process", dir)
	}
	return f, nil
}

// DefaultHostID derives a stable identifier of this machine: a hash of its
// machine-id, or of its hostname where there is none.
func DefaultHostID() string {
	var seed []byte
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			seed = b
			break
		}
	}
	if seed == nil {
		h, _ := os.Hostname()
		seed = []byte("hostname:" + h)
	}
	sum := sha256.Sum256(append([]byte("orgpeer-host-id:"), seed...))
	return hex.EncodeToString(sum[:8])
}
