package demo

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestSoakReportJudges(t *testing.T) {
	before := map[int]resources{1: {"n01", 30, 100}, 2: {"n02", 30, 100}}
	ok := summary{Events: 2, Recovered: []time.Duration{time.Second, 2 * time.Second}}
	for _, tc := range []struct {
		name  string
		after map[int]resources
		s     summary
		want  string
	}{
		{"flat", map[int]resources{1: {"n01", 33, 110}, 2: {"n02", 31, 90}, 3: {"n03", 90, 900}}, ok, ""},
		{"memory leak", map[int]resources{1: {"n01", 80, 100}}, ok, "memory or goroutines grew"},
		{"goroutine leak", map[int]resources{2: {"n02", 30, 400}}, ok, "memory or goroutines grew"},
		{"event never recovered", map[int]resources{1: {"n01", 30, 100}}, summary{Events: 1, Pending: 1}, "never got back"},
		{"no survivor", map[int]resources{3: {"n03", 30, 100}}, ok, "no node ran"},
	} {
		err := soakReport(io.Discard, before, tc.after, tc.s)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
