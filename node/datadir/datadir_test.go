package datadir

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/orgpeer/orgpeer/node/api"
)

func open(t *testing.T, path string, log *slog.Logger) *Dir {
	t.Helper()
	d, err := Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenLocksAndTightens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	open(t, path, slog.New(slog.NewTextHandler(&logged, nil)))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %#o, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(logged.String(), "mode tightened") || !strings.Contains(logged.String(), "was=0755") {
		t.Fatalf("tightening not logged: %q", logged.String())
	}
	if _, err := Open(path, slog.Default()); err == nil || !strings.Contains(err.Error(), "in use by another") {
		t.Fatalf("second open of a locked data dir: %v", err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	logged.Reset()
	open(t, fresh, slog.New(slog.NewTextHandler(&logged, nil)))
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 || logged.Len() != 0 {
		t.Fatalf("a new data dir: %v, %v, logged %q", err, fi, logged.String())
	}
}

func TestEpochCountsAndRefusesToWrap(t *testing.T) {
	d := open(t, t.TempDir(), slog.Default())
	for want := uint64(1); want <= 2; want++ {
		if got, err := d.NextEpoch(); err != nil || got != want {
			t.Fatalf("epoch %d, %v; want %d", got, err, want)
		}
	}
	path := filepath.Join(d.path, epochFile)
	os.WriteFile(path, []byte(strconv.FormatUint(1<<64-2, 10)+"\n"), 0o600)
	if got, err := d.NextEpoch(); err != nil || got != 1<<64-1 {
		t.Fatalf("the last epoch: %d, %v", got, err)
	}
	if got, err := d.NextEpoch(); err == nil || !strings.Contains(err.Error(), "largest epoch") {
		t.Fatalf("after the largest epoch: %d, %v; want an error", got, err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.FormatUint(1<<64-1, 10) {
		t.Fatalf("the refused epoch changed the file to %q", b)
	}
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := d.NextEpoch(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt epoch: %v", err)
	}
}

func TestIdentityKeptAndCorruptRefused(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, slog.Default())
	a, err := d.Identity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateIdentity(dir)
	if err != nil || !a.Equals(b) {
		t.Fatalf("identity not kept: %v", err)
	}
	os.WriteFile(filepath.Join(dir, identityFile), []byte("garbage"), 0o600)
	if _, err := LoadOrCreateIdentity(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt identity: %v", err)
	}
}

func TestInfoAndRevocationsStored(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, slog.Default())
	if err := d.WriteInfo(api.SelfInfo{PeerID: "p", API: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if i, err := api.ReadInfo(dir); err != nil || i.PeerID != "p" || i.API != "127.0.0.1:1" {
		t.Fatalf("node.json read back: %+v, %v", i, err)
	}
	if got, err := d.Revocations(); len(got) != 0 || err != nil {
		t.Fatalf("revocations before any: %v, %v", got, err)
	}
	for _, r := range []struct{ org, raw string }{{"a", "one"}, {"b", "two"}, {"a", "three"}} {
		if err := d.SaveRevocation(r.org, []byte(r.raw)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Revocations()
	if err != nil || len(got) != 2 || string(got[0].Raw) != "three" || string(got[1].Raw) != "two" ||
		filepath.Base(got[0].Path) != "a.rev" {
		t.Fatalf("stored revocations %+v, %v, want the newest of each org", got, err)
	}
}

func TestRemoveInfo(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, slog.Default())
	if err := d.WriteInfo(api.SelfInfo{PeerID: "p", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if i, err := api.ReadInfo(dir); err != nil || i.PID != os.Getpid() {
		t.Fatalf("node.json read back: %+v, %v", i, err)
	}
	for range 2 { // gone, and removing it again is no error
		if err := d.RemoveInfo(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.ReadInfo(dir); err == nil || !strings.Contains(err.Error(), "no running node") {
		t.Fatalf("after RemoveInfo: %v", err)
	}
}
