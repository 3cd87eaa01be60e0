package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Events streams the node's events (/v1/events), only those of org when it
// is not "", to f in order, until ctx ends (then it returns ctx's error),
// the node ends the stream, or f returns an error (which it returns).
func (c *Client) Events(ctx context.Context, org string, f func(Event) error) error {
	q := url.Values{}
	if org != "" {
		q.Set("org", org)
	}
	req, err := c.request(ctx, "/v1/events", q)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	// No timeout: a stream lasts as long as ctx.
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return statusErr("/v1/events", resp.StatusCode, body)
	}
	err = readSSE(resp.Body, func(data []byte) error {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("/v1/events: %w", err)
		}
		return f(e)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = fmt.Errorf("/v1/events: the node ended the stream")
	}
	return err
}

// readSSE calls f with the data of each server-sent event in r until r
// ends (nil) or fails, or f fails.
func readSSE(r io.Reader, f func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				if err := f(data); err != nil {
					return err
				}
			}
			data = data[:0]
		case bytes.HasPrefix(line, []byte("data:")):
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
		// Comments (keep-alives), event: and id: lines: the data says it all.
	}
	return sc.Err()
}

// History returns the node's counts over time since since ago (0: all it
// keeps), only of org when it is not "".
func (c *Client) History(ctx context.Context, org string, since time.Duration) (History, error) {
	q := url.Values{}
	if org != "" {
		q.Set("org", org)
	}
	if since > 0 {
		q.Set("since", since.String())
	}
	var h History
	return h, c.get(ctx, "/v1/history", q, &h)
}

// Explain returns what the node knows of one peer.
func (c *Client) Explain(ctx context.Context, peerID string) (Explanation, error) {
	var x Explanation
	return x, c.get(ctx, "/v1/peers/"+url.PathEscape(peerID), nil, &x)
}
