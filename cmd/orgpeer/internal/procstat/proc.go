// Package procstat reads what a process and the machine cost, from Linux's
// /proc, and a node's figures, from its Prometheus text exposition. Off
// Linux the /proc readers return errors.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// Linux fixes it at 100 on every architecture Go supports.
const clockTicks = 100

// RSS returns the resident set size of pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd VmRSS line %q", pid, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb << 10, err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS (process gone?)", pid)
}

// CPU returns the CPU time pid has used, user plus system.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis. utime and stime are fields 14
	// and 15, so the 12th and 13th after the parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// LoadAverage returns the machine's 1-minute load average, or -1.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// CPUModel returns the model name of the machine's first CPU ("" if unknown).
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// CPUTimes is the CPU time the whole machine has spent, over every core.
type CPUTimes struct {
	Busy  time.Duration // user, nice, system, interrupts and steal
	Steal time.Duration // the hypervisor ran something else while this machine's vCPUs wanted to run
	Total time.Duration
}

// StealPct is the share of all cores' time that the hypervisor took from
// a to b; ok is false when either reading failed (zero) or no time passed.
func StealPct(a, b CPUTimes) (pct float64, ok bool) {
	if a.Total == 0 || b.Total <= a.Total {
		return 0, false
	}
	return 100 * (b.Steal - a.Steal).Seconds() / (b.Total - a.Total).Seconds(), true
}

// MachineCPU reads the machine's CPU times from the first line of
// /proc/stat; on failure they are zero, which StealPct refuses.
func MachineCPU() (CPUTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPUTimes{}, fmt.Errorf("/proc/stat: odd first line %q", line)
	}
	var ticks [8]int64 // user nice system idle iowait irq softirq steal
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return CPUTimes{}, fmt.Errorf("/proc/stat: %v", err)
		}
	}
	var busy, total int64
	for i, v := range ticks {
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	dur := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return CPUTimes{Busy: dur(busy), Steal: dur(ticks[7]), Total: dur(total)}, nil
}
