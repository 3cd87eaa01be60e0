package procstat

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Metrics are the samples of one Prometheus text exposition, by series:
// the metric name with its labels as the exposition writes them, such as
// `orgpeer_libp2p_bytes_total{direction="in"}`.
type Metrics map[string]float64

// ParseMetrics reads Prometheus text exposition (at most 8 MB), skipping
// comments and keeping each sample's value (a timestamp after it is
// ignored).
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(io.LimitReader(r, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// Label values may hold spaces: the series ends at the closing
		// brace when there are labels.
		end := strings.IndexByte(line, ' ')
		if i := strings.IndexByte(line, '{'); i >= 0 && (end < 0 || i < end) {
			end = strings.LastIndexByte(line, '}') + 1
		}
		if end <= 0 || end >= len(line) {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		fields := strings.Fields(line[end:])
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %s: %v", line[:end], err)
		}
		m[line[:end]] = v
	}
	return m, sc.Err()
}

// Sum adds the values of the series that match accepts.
func (m Metrics) Sum(match func(series string) bool) float64 {
	var s float64
	for k, v := range m {
		if match(k) {
			s += v
		}
	}
	return s
}
