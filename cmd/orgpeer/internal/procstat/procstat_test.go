package procstat

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_goroutines_other 1
orgpeer_libp2p_bytes_total{direction="in"} 1.5e+06
orgpeer_messages_total{kind="heartbeat",result="accepted"} 7 1700000000000
orgpeer_messages_total{kind="leave",result="accepted"} 3
orgpeer_messages_total{kind="hello",result="rejected"} 9
label_with_space{reason="too many"} +Inf
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m["go_goroutines"]; !ok || v != 42 {
		t.Errorf("go_goroutines: %v %v", v, ok)
	}
	if v := m[`orgpeer_libp2p_bytes_total{direction="in"}`]; v != 1.5e6 {
		t.Errorf("bytes in: %v", v)
	}
	accepted := m.Sum(func(s string) bool {
		return strings.HasPrefix(s, "orgpeer_messages_total{") && strings.Contains(s, `result="accepted"`)
	})
	if accepted != 10 {
		t.Errorf("accepted messages: %v, want 10", accepted)
	}
	if _, ok := m[`label_with_space{reason="too many"}`]; !ok || len(m) != 7 {
		t.Errorf("series: %v", m)
	}
	if _, err := ParseMetrics(strings.NewReader("go_goroutines\n")); err == nil {
		t.Error("a sample without a value parsed")
	}
}

func TestStealPct(t *testing.T) {
	a := CPUTimes{Steal: time.Second, Total: 10 * time.Second}
	b := CPUTimes{Steal: 2 * time.Second, Total: 20 * time.Second}
	if pct, ok := StealPct(a, b); !ok || pct != 10 {
		t.Errorf("StealPct: %v %v, want 10", pct, ok)
	}
	if _, ok := StealPct(CPUTimes{}, b); ok {
		t.Error("a failed reading made a figure")
	}
	if _, ok := StealPct(b, b); ok {
		t.Error("no time passed, yet a figure")
	}
}

func TestThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	if rss, err := RSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("RSS: %v %v", rss, err)
	}
	if _, err := CPU(os.Getpid()); err != nil {
		t.Errorf("CPU: %v", err)
	}
	if m, err := MachineCPU(); err != nil || m.Total <= 0 || m.Busy > m.Total {
		t.Errorf("MachineCPU: %+v %v", m, err)
	}
}
