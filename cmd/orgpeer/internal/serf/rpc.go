package serf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Serf's RPC, as much of it as the benchmark asks: a TCP connection on
// which each request is a msgpack header, {Command, Seq}, and maybe a body,
// and each answer a header, {Seq, Error}, and maybe a body. A handshake,
// {Version: 1}, comes first. HashiCorp's client (github.com/hashicorp/serf/
// client) speaks the same, but linking it and its msgpack codec made every
// `orgpeer run` 0.4 MB larger in memory: the benchmark's reference must not
// cost the node it measures.

// rpcConn is one RPC connection to an agent; one call at a time.
type rpcConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	seq  uint64
}

// dialRPC connects to the agent's RPC at addr and shakes hands.
func dialRPC(ctx context.Context, addr string) (*rpcConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rpcConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
	if _, err := c.call(ctx, "handshake", map[string]uint64{"Version": 1}, false); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return c, nil
}

func (c *rpcConn) Close() error { return c.conn.Close() }

// call sends command with body (nil: none), reads the answer's header and,
// if withBody, its body. After an error the connection is unusable.
func (c *rpcConn) call(ctx context.Context, command string, body map[string]uint64, withBody bool) (any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(rpcTimeout)
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()

	c.seq++
	writeMapHeader(c.w, 2)
	writeString(c.w, "Command")
	writeString(c.w, command)
	writeString(c.w, "Seq")
	writeUint(c.w, c.seq)
	if body != nil {
		writeMapHeader(c.w, len(body))
		for k, v := range body {
			writeString(c.w, k)
			writeUint(c.w, v)
		}
	}
	if err := c.w.Flush(); err != nil {
		return nil, ctxErr(ctx, err)
	}
	h, err := decode(c.r, 0)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	header, _ := h.(map[string]any)
	if seq, _ := header["Seq"].(uint64); seq != c.seq {
		return nil, fmt.Errorf("answer to request %d, not %d", seq, c.seq)
	}
	if e, _ := header["Error"].(string); e != "" {
		return nil, errors.New(e)
	}
	if !withBody {
		return nil, nil
	}
	v, err := decode(c.r, 0)
	return v, ctxErr(ctx, err)
}

// members asks for every member the agent knows.
func (c *rpcConn) members(ctx context.Context) ([]Member, error) {
	v, err := c.call(ctx, "members", nil, true)
	if err != nil {
		return nil, err
	}
	return membersOf(v)
}

// membersOf reads a members answer, {Members: [{Name, Tags, Status...}]}.
func membersOf(v any) ([]Member, error) {
	body, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("members: answer is %T, not a map", v)
	}
	list, ok := body["Members"].([]any)
	if !ok && body["Members"] != nil {
		return nil, fmt.Errorf("members: Members is %T, not a list", body["Members"])
	}
	out := make([]Member, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("members: a member is %T, not a map", e)
		}
		tags, _ := m["Tags"].(map[string]any)
		org, _ := tags["org"].(string)
		name, _ := m["Name"].(string)
		status, _ := m["Status"].(string)
		out = append(out, Member{Name: name, Org: org, Status: status})
	}
	return out, nil
}

// ctxErr prefers the context's error to the deadline it caused.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
