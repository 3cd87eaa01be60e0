package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// Client talks to a node's local API.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the API at addr (host:port).
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, hc: &http.Client{Timeout: 10 * time.Second}}
}

// NewClientVia returns a client of the API at addr whose connections dial
// opens (a node in another network namespace, say).
func NewClientVia(addr, token string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	c := NewClient(addr, token)
	c.hc.Transport = &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	return c
}

// View returns the node's per-organization counts.
func (c *Client) View(ctx context.Context) (orgs.Snapshot, error) {
	var s orgs.Snapshot
	return s, c.get(ctx, "/v1/view", nil, &s)
}

// Peers returns the peers behind the counts, filtered by org and state
// (empty strings match all).
func (c *Client) Peers(ctx context.Context, org, state string) ([]orgs.PeerInfo, error) {
	q := url.Values{}
	if org != "" {
		q.Set("org", org)
	}
	if state != "" {
		q.Set("state", state)
	}
	var ps []orgs.PeerInfo
	return ps, c.get(ctx, "/v1/peers", q, &ps)
}

// Self returns the node's own record.
func (c *Client) Self(ctx context.Context) (SelfInfo, error) {
	var i SelfInfo
	return i, c.get(ctx, "/v1/self", nil, &i)
}

// Health returns the node's liveness checks (/healthz); the error names
// the failing ones.
func (c *Client) Health(ctx context.Context) (Health, error) { return c.checks(ctx, "/healthz") }

// Ready returns the node's readiness checks (/readyz): live and joined; the
// error names the failing ones.
func (c *Client) Ready(ctx context.Context) (Health, error) { return c.checks(ctx, "/readyz") }

func (c *Client) checks(ctx context.Context, path string) (Health, error) {
	var h Health
	code, body, err := c.fetch(ctx, path, nil, 1<<20)
	switch {
	case err != nil:
		return h, err
	case code != http.StatusOK && code != http.StatusServiceUnavailable:
		return h, statusErr(path, code, body)
	case json.Unmarshal(body, &h) != nil:
		return h, fmt.Errorf("%s: HTTP %d: not a health answer", path, code)
	case code != http.StatusOK:
		return h, fmt.Errorf("%s: %s", path, strings.Join(h.Failing(), "; "))
	}
	return h, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	code, body, err := c.fetch(ctx, path, q, 64<<20)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return statusErr(path, code, body)
	}
	return json.Unmarshal(body, out)
}

// fetch GETs path with the query q and returns the status and up to limit
// bytes of the body.
func (c *Client) fetch(ctx context.Context, path string, q url.Values, limit int64) (int, []byte, error) {
	req, err := c.request(ctx, path, q)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp.StatusCode, body, err
}

// request is a GET of path with the query q and the token.
func (c *Client) request(ctx context.Context, path string, q url.Values) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// statusErr is the error of an answer other than 200: the API's message
// when the body has one.
func statusErr(path string, code int, body []byte) error {
	var e APIError
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: %s", path, e.Error)
	}
	return fmt.Errorf("%s: HTTP %d", path, code)
}

// Metrics returns the node's Prometheus exposition text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	code, body, err := c.fetch(ctx, "/metrics", nil, 16<<20)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("/metrics: HTTP %d", code)
	}
	return string(body), err
}
