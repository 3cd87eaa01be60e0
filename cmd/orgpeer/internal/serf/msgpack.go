package serf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// The msgpack (https://github.com/msgpack/msgpack/blob/master/spec.md)
// that Serf's RPC needs: writing small maps of strings and unsigned
// integers, and reading any value.

func writeMapHeader(w *bufio.Writer, n int) {
	switch {
	case n < 16:
		w.WriteByte(0x80 | byte(n))
	case n <= math.MaxUint16:
		w.WriteByte(0xde)
		w.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	default:
		w.WriteByte(0xdf)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	}
}

func writeString(w *bufio.Writer, s string) {
	switch n := len(s); {
	case n < 32:
		w.WriteByte(0xa0 | byte(n))
	case n <= math.MaxUint8:
		w.Write([]byte{0xd9, byte(n)})
	case n <= math.MaxUint16:
		w.WriteByte(0xda)
		w.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	default:
		w.WriteByte(0xdb)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	}
	w.WriteString(s)
}

func writeUint(w *bufio.Writer, v uint64) {
	if v < 0x80 {
		w.WriteByte(byte(v))
		return
	}
	w.WriteByte(0xcf)
	w.Write(binary.BigEndian.AppendUint64(nil, v))
}

// Bounds on what decode accepts from an agent.
const (
	maxDepth = 32       // nesting of maps and lists
	maxLen   = 16 << 20 // bytes of a string, entries of a map or list
)

// decode reads one value: nil, bool, int64 (negative integers), uint64
// (the others), float64, string, []byte (bin and ext data), []any or
// map[string]any (keys that are not strings are written with %v).
func decode(r *bufio.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("msgpack: nested deeper than %d", maxDepth)
	}
	b, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	switch {
	case b <= 0x7f:
		return uint64(b), nil
	case b >= 0xe0:
		return int64(int8(b)), nil
	case b&0xf0 == 0x80:
		return decodeMap(r, int(b&0x0f), depth)
	case b&0xf0 == 0x90:
		return decodeList(r, int(b&0x0f), depth)
	case b&0xe0 == 0xa0:
		return decodeString(r, int(b&0x1f))
	}
	switch b {
	case 0xc0:
		return nil, nil
	case 0xc2, 0xc3:
		return b == 0xc3, nil
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		n, err := readLen(r, 1<<(b-0xc4))
		if err != nil {
			return nil, err
		}
		return readN(r, n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type, data
		n, err := readLen(r, 1<<(b-0xc7))
		if err != nil {
			return nil, err
		}
		return readN(r, n+1)
	case 0xca:
		u, err := readUint(r, 4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := readUint(r, 8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		return readUint(r, 1<<(b-0xcc))
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (b - 0xd0)
		u, err := readUint(r, size)
		shift := 64 - 8*size // sign-extend
		return int64(u<<shift) >> shift, err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
		return readN(r, 1+1<<(b-0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := readLen(r, 1<<(b-0xd9))
		if err != nil {
			return nil, err
		}
		return decodeString(r, n)
	case 0xdc, 0xdd:
		n, err := readLen(r, 2<<(b-0xdc))
		if err != nil {
			return nil, err
		}
		return decodeList(r, n, depth)
	case 0xde, 0xdf:
		n, err := readLen(r, 2<<(b-0xde))
		if err != nil {
			return nil, err
		}
		return decodeMap(r, n, depth)
	}
	return nil, fmt.Errorf("msgpack: unknown type byte %#x", b)
}

func decodeMap(r *bufio.Reader, n, depth int) (any, error) {
	m := make(map[string]any, min(n, 64))
	for range n {
		k, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case string:
			m[k] = v
		default:
			m[fmt.Sprint(k)] = v
		}
	}
	return m, nil
}

func decodeList(r *bufio.Reader, n, depth int) (any, error) {
	l := make([]any, 0, min(n, 64))
	for range n {
		v, err := decode(r, depth+1)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

func decodeString(r *bufio.Reader, n int) (any, error) {
	b, err := readN(r, n)
	return string(b), err
}

// readLen reads a big-endian length of size bytes, at most maxLen.
func readLen(r *bufio.Reader, size int) (int, error) {
	u, err := readUint(r, size)
	if err != nil {
		return 0, err
	}
	if u > maxLen {
		return 0, fmt.Errorf("msgpack: length %d over %d", u, maxLen)
	}
	return int(u), nil
}

func readUint(r *bufio.Reader, size int) (uint64, error) {
	var buf [8]byte
	if _, err := io.ReadFull(r, buf[8-size:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(buf[:]), nil
}

func readN(r *bufio.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}
