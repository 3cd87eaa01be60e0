package serf

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMsgpackValues(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want any
	}{
		{[]byte{0x05}, uint64(5)},
		{[]byte{0xff}, int64(-1)},
		{[]byte{0xcc, 0xc8}, uint64(200)},
		{[]byte{0xcd, 0x1f, 0x4a}, uint64(8010)},
		{[]byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, uint64(1 << 32)},
		{[]byte{0xd0, 0x80}, int64(-128)},
		{[]byte{0xd1, 0xff, 0x38}, int64(-200)},
		{[]byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, int64(-2)},
		{[]byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, 1.5},
		{[]byte{0xca, 0x3f, 0xc0, 0, 0}, 1.5},
		{[]byte{0xc0}, nil},
		{[]byte{0xc3}, true},
		{[]byte{0xa3, 'a', 'b', 'c'}, "abc"},
		{[]byte{0xd9, 2, 'h', 'i'}, "hi"},
		{[]byte{0xda, 0, 2, 'h', 'i'}, "hi"},
		{[]byte{0xc4, 4, 127, 0, 0, 1}, []byte{127, 0, 0, 1}}, // a member's Addr, net.IP
		{[]byte{0xd4, 1, 9}, []byte{1, 9}},                    // fixext 1: type, data
		{[]byte{0xc7, 2, 5, 1, 2}, []byte{5, 1, 2}},           // ext 8: length, type, data
		{[]byte{0x92, 0x01, 0xa1, 'x'}, []any{uint64(1), "x"}},
		{[]byte{0xdc, 0, 1, 0xc2}, []any{false}},
		{[]byte{0x81, 0xa1, 'k', 0x80}, map[string]any{"k": map[string]any{}}},
		{[]byte{0xde, 0, 1, 0x07, 0xc0}, map[string]any{"7": nil}},
	} {
		got, err := decode(bufio.NewReader(bytes.NewReader(c.in)), 0)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("% x: %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
	for _, bad := range [][]byte{{0xc1}, {0xa3, 'a'}, {0xdb, 0xff, 0xff, 0xff, 0xff}, {}, bytes.Repeat([]byte{0x91}, 40)} {
		if v, err := decode(bufio.NewReader(bytes.NewReader(bad)), 0); err == nil {
			t.Errorf("% x decoded as %#v", bad, v)
		}
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeMapHeader(w, 3)
	writeString(w, "Seq")
	writeUint(w, 300)
	writeString(w, strings.Repeat("k", 40))
	writeUint(w, 7)
	writeString(w, "Command")
	writeString(w, strings.Repeat("v", 300))
	w.Flush()
	got, err := decode(bufio.NewReader(&buf), 0)
	want := map[string]any{"Seq": uint64(300), strings.Repeat("k", 40): uint64(7), "Command": strings.Repeat("v", 300)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("written and read back: %#v, %v", got, err)
	}
}

// TestRPCAgainstAFakeAgent plays an agent's side of the RPC: the
// handshake, then a members answer as Serf writes it.
func TestRPCAgainstAFakeAgent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			conn, err := l.Accept()
			if err != nil {
				return err
			}
			defer conn.Close()
			r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
			for _, want := range []string{"handshake", "members"} {
				h, err := decode(r, 0)
				if err != nil {
					return err
				}
				header := h.(map[string]any)
				if header["Command"] != want {
					return fmt.Errorf("got %v, want %s", header, want)
				}
				if want == "handshake" {
					if body, err := decode(r, 0); err != nil || !reflect.DeepEqual(body, map[string]any{"Version": uint64(1)}) {
						return fmt.Errorf("handshake body %v, %v", body, err)
					}
				}
				writeMapHeader(w, 2)
				writeString(w, "Seq")
				writeUint(w, header["Seq"].(uint64))
				writeString(w, "Error")
				writeString(w, "")
				if want == "handshake" {
					if err := w.Flush(); err != nil {
						return err
					}
				}
			}
			// {Members: [{Name: s01, Addr: bin, Port: 8010, Tags: {org: org1}, Status: alive}, {Name: s02, Status: failed}]}
			w.Write([]byte{0x81, 0xa7})
			w.WriteString("Members")
			w.Write([]byte{0x92, 0x85})
			writeString(w, "Name")
			writeString(w, "s01")
			writeString(w, "Addr")
			w.Write([]byte{0xc4, 4, 127, 0, 0, 1})
			writeString(w, "Port")
			w.Write([]byte{0xcd, 0x1f, 0x4a})
			writeString(w, "Tags")
			writeMapHeader(w, 1)
			writeString(w, "org")
			writeString(w, "org1")
			writeString(w, "Status")
			writeString(w, "alive")
			writeMapHeader(w, 2)
			writeString(w, "Name")
			writeString(w, "s02")
			writeString(w, "Status")
			writeString(w, "failed")
			return w.Flush()
		}()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialRPC(ctx, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ms, err := c.members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{Name: "s01", Org: "org1", Status: "alive"}, {Name: "s02", Status: "failed"}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("members %+v, want %+v", ms, want)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestFindBin(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindBin(filepath.Join(dir, "nothing"), dir); err == nil || !strings.Contains(err.Error(), "--serf-bin") {
		t.Errorf("a missing --serf-bin: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindBin("", dir); err == nil || !strings.Contains(err.Error(), "make bin/serf") {
		t.Errorf("no serf anywhere: %v", err)
	}
	bin := filepath.Join(dir, "serf")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindBin("", dir); err != nil || got != bin {
		t.Errorf("serf next to orgpeer: %q, %v", got, err)
	}
}

func TestPortsAreFreeAndNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		ps, err := freePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if seen[p] || p < portLow || p >= portHigh {
				t.Fatalf("port %d handed out twice or outside [%d, %d)", p, portLow, portHigh)
			}
			seen[p] = true
		}
	}
}
