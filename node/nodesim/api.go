package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orgpeer/orgpeer/orgs"
)

// memListener is a node's API listener inside the simulation: connections
// are in-memory pipes, whose waits are channel waits, which synctest's
// virtual clock understands (a real socket's are not).
type memListener struct {
	name   string
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener(name string) *memListener {
	return &memListener{name: name, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.name) }

func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, fmt.Errorf("API of %s: %w", l.name, net.ErrClosed)
}

type memAddr string

func (memAddr) Network() string  { return "mem" }
func (a memAddr) String() string { return string(a) + ":0" }

// apiClient reaches the nodes' APIs through their memListeners, one
// connection per request.
type apiClient struct {
	hc *http.Client
}

func newAPIClient(listener func(host string) *memListener) *apiClient {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			l := listener(host)
			if l == nil {
				return nil, fmt.Errorf("no node %s", host)
			}
			return l.dial(ctx)
		},
	}
	return &apiClient{hc: &http.Client{Transport: tr}}
}

func (c *apiClient) get(ctx context.Context, l *memListener, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.Addr().String()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s%s: HTTP %d", l.name, path, resp.StatusCode)
	}
	return resp.Body, nil
}

// view is the node's /v1/view.
func (c *apiClient) view(ctx context.Context, l *memListener) (orgs.Snapshot, error) {
	var s orgs.Snapshot
	body, err := c.get(ctx, l, "/v1/view")
	if err != nil {
		return s, err
	}
	defer body.Close()
	return s, json.NewDecoder(body).Decode(&s)
}

// alive is the peer IDs of org that the node counts alive.
func (c *apiClient) alive(ctx context.Context, l *memListener, org string) (map[string]bool, error) {
	body, err := c.get(ctx, l, "/v1/peers?state=alive&org="+org)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var ps []orgs.PeerInfo
	if err := json.NewDecoder(body).Decode(&ps); err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(ps))
	for _, p := range ps {
		ids[p.PeerID] = true
	}
	return ids, nil
}

// counters are the node's own counters that the simulation reports.
type counters struct {
	accepted            float64 // messages from other peers that passed validation
	libp2pIn, libp2pOut float64 // bytes of its libp2p streams (the figure `orgpeer bench` reports)
	connections         float64 // peers it holds a connection to
	advertised, lookups float64 // DHT advertisements and lookups done
	dials, dialFailures float64 // connections to peers its lookups found
}

// counters reads the node's /metrics.
func (c *apiClient) counters(ctx context.Context, l *memListener) (counters, error) {
	var cs counters
	body, err := c.get(ctx, l, "/metrics")
	if err != nil {
		return cs, err
	}
	defer body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if err != nil {
		return cs, fmt.Errorf("%s/metrics: %w", l.name, err)
	}
	label := func(m *dto.Metric, name string) string {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name {
				return lp.GetValue()
			}
		}
		return ""
	}
	for _, m := range fams["orgpeer_messages_total"].GetMetric() {
		if label(m, "result") == "accepted" {
			cs.accepted += m.GetCounter().GetValue()
		}
	}
	value := func(name string) float64 {
		var v float64
		for _, m := range fams[name].GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return v
	}
	cs.connections, cs.advertised = value("orgpeer_connections"), value("orgpeer_discovery_advertisements_total")
	cs.lookups = value("orgpeer_discovery_lookups_total")
	for _, m := range fams["orgpeer_discovery_dials_total"].GetMetric() {
		if label(m, "result") == "connected" {
			cs.dials += m.GetCounter().GetValue()
		} else {
			cs.dialFailures += m.GetCounter().GetValue()
		}
	}
	for _, m := range fams["orgpeer_libp2p_bytes_total"].GetMetric() {
		switch label(m, "direction") {
		case "in":
			cs.libp2pIn = m.GetCounter().GetValue()
		case "out":
			cs.libp2pOut = m.GetCounter().GetValue()
		}
	}
	return cs, nil
}
