package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The node's API and the demo's dashboard answer in the same way and guard
// loopback in the same way, so they share these.

// IsLoopbackHost reports whether host (a name or an IP, brackets allowed, no
// port) is this machine's loopback.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// WriteJSON answers code with v as JSON that no cache keeps; indented for
// a person reading it with curl, compact for the dashboard's page.
func WriteJSON(w http.ResponseWriter, code int, v any, indent bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	enc.Encode(v)
}

// WriteError answers code with an APIError, on one line.
func WriteError(w http.ResponseWriter, code int, format string, a ...any) {
	WriteJSON(w, code, APIError{Error: fmt.Sprintf(format, a...)}, false)
}
