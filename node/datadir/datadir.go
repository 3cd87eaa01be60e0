// Package datadir is a node's data directory: its identity key, its boot
// counter (the epoch), the lock that keeps two processes from running as one
// peer, the node.json through which the CLI finds the node, and the
// revocation lists it enforces across restarts. Every file is written
// atomically (orgs.WriteFileAtomic), so a crash leaves the old or the new.
package datadir

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

const (
	identityFile   = "identity.key"
	epochFile      = "epoch"
	lockFile       = "lock"
	revocationsDir = "revocations"
)

// Dir is an open, locked data directory. Close releases the lock.
type Dir struct {
	path string
	lock *os.File
}

// Open creates the data directory (mode 0700), or tightens an existing one
// that others may read to 0700, saying so in log, and takes its lock.
func Open(path string, log *slog.Logger) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		// The identity key inside is the node's whole identity.
		if err := os.Chmod(path, 0o700); err != nil {
			return nil, fmt.Errorf("data dir %s has mode %#o and cannot be made private: %w", path, mode, err)
		}
		log.Warn("data dir was open to other users: mode tightened", "dir", path, "was", fmt.Sprintf("%#o", mode), "now", "0700")
	}
	lock, err := lockDir(path)
	if err != nil {
		return nil, err
	}
	return &Dir{path: path, lock: lock}, nil
}

// Close releases the lock.
func (d *Dir) Close() error { return d.lock.Close() }

// lockDir takes an exclusive lock on dir so that two processes never run as
// the same peer. The lock goes with the returned file.
func lockDir(dir string) (*os.File, error) {
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

// Identity returns the node's private key, created on first use.
func (d *Dir) Identity() (crypto.PrivKey, error) { return LoadOrCreateIdentity(d.path) }

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
		if err := orgfile.WriteFileAtomic(path, raw, 0o600); err != nil {
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

// NextEpoch increments and returns the persisted boot counter. It refuses
// the largest epoch: the next would wrap to 0, which every peer refuses, and
// a node would run unheard.
func (d *Dir) NextEpoch() (uint64, error) {
	path := filepath.Join(d.path, epochFile)
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
	if n == math.MaxUint64 {
		return 0, fmt.Errorf("epoch file %s holds the largest epoch (%d): this identity cannot start again; remove %s and %s to become a new peer",
			path, n, identityFile, epochFile)
	}
	n++
	return n, orgfile.WriteFileAtomic(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600)
}

// WriteInfo writes node.json, where the CLI finds the running node's API.
func (d *Dir) WriteInfo(info api.SelfInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return orgfile.WriteFileAtomic(filepath.Join(d.path, api.InfoFile), append(b, '\n'), 0o644)
}

// RemoveInfo removes node.json, on a clean exit: the CLI then says no node
// runs rather than failing to reach a gone one.
func (d *Dir) RemoveInfo() error {
	err := os.Remove(filepath.Join(d.path, api.InfoFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// StoredRevocation is a revocation list SaveRevocation stored, and its file.
type StoredRevocation struct {
	Path string
	Raw  []byte
}

// Revocations returns the revocation lists SaveRevocation stored. A file it
// cannot read is an error: a list silently dropped would make the peers it
// revokes count verified again.
func (d *Dir) Revocations() ([]StoredRevocation, error) {
	paths, _ := filepath.Glob(filepath.Join(d.path, revocationsDir, "*.rev"))
	var out []StoredRevocation
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("stored revocation list %s: %w", p, err)
		}
		out = append(out, StoredRevocation{Path: p, Raw: raw})
	}
	return out, nil
}

// SaveRevocation stores the newest revocation list of the organization
// orgID, so that it is enforced after a restart.
func (d *Dir) SaveRevocation(orgID string, raw []byte) error {
	dir := filepath.Join(d.path, revocationsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return orgfile.WriteFileAtomic(filepath.Join(dir, orgID+".rev"), raw, 0o600)
}
