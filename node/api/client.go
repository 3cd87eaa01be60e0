package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// Health returns the node's health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.get(ctx, "/healthz", nil, &h)
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e APIError
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", path, e.Error)
		}
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	return json.Unmarshal(body, out)
}

// Metrics returns the node's Prometheus exposition text.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	return string(b), err
}
