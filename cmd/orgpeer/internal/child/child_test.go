package child

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestStartAwaitStop(t *testing.T) {
	var never *Process
	if never.PID() != 0 || never.Running() {
		t.Fatal("a process never started has a PID or runs")
	}
	never.Stop(syscall.SIGTERM, time.Second) // nothing to stop

	log := filepath.Join(t.TempDir(), "child.log")
	ctx := context.Background()
	for range 2 {
		p, err := Start(exec.Command("sh", "-c", "echo hello"), log)
		if err != nil {
			t.Skipf("no sh: %v", err)
		}
		if err := p.Await(ctx, 5*time.Second, func() bool { return false }); !errors.Is(err, ErrExited) {
			t.Fatalf("await of a process that exits: %v", err)
		}
	}
	if b, err := os.ReadFile(log); err != nil || string(b) != "hello\nhello\n" {
		t.Fatalf("log %q, %v: want both outputs appended", b, err)
	}

	p, err := Start(exec.Command("sleep", "30"), log)
	if err != nil {
		t.Skipf("no sleep: %v", err)
	}
	if p.PID() <= 0 || !p.Running() {
		t.Fatal("a started process has no PID or does not run")
	}
	if err := p.Await(ctx, 20*time.Millisecond, func() bool { return false }); !errors.Is(err, ErrTimeout) {
		t.Fatalf("await that never gets ready: %v", err)
	}
	calls := 0
	if err := p.Await(ctx, time.Second, func() bool { calls++; return calls == 3 }); err != nil || calls != 3 {
		t.Fatalf("await: %v after %d calls", err, calls)
	}
	p.Stop(syscall.SIGTERM, 5*time.Second)
	if p.Running() {
		t.Fatal("still running after Stop")
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	// The process ignores SIGTERM (an ignored signal stays ignored across
	// exec); Stop kills it after the grace period.
	log := filepath.Join(t.TempDir(), "log")
	p, err := Start(exec.Command("sh", "-c", "trap '' TERM; echo ready; exec sleep 30"), log)
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	err = p.Await(context.Background(), 5*time.Second, func() bool {
		b, _ := os.ReadFile(log)
		return string(b) == "ready\n"
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	if took := time.Since(start); p.Running() || took < 200*time.Millisecond || took > 5*time.Second {
		t.Fatalf("running %v after %v: want killed once the grace period is over", p.Running(), took)
	}
}
