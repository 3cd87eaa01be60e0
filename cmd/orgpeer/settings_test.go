package main

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/node"
)

const somePeer = "12D3KooWEV8PTgFXxPVeGktpPD9kQr7oTkgwYmEhPoC9JJf3cQeA"

// cleanEnv clears every variable that may set `orgpeer run`'s settings, so
// that the developer's own ORGPEER_* do not leak into a test.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix+"_") {
			t.Setenv(k, "")
		}
	}
	for _, k := range []string{"STATE_DIRECTORY", "XDG_STATE_HOME", "NOTIFY_SOCKET"} {
		t.Setenv(k, "")
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunSettingsPrecedence: a flag wins over its variable, a variable
// over the config file, the file over the preset; JSON and TOML alike, and
// a repeatable flag takes its values from one source only.
func TestRunSettingsPrecedence(t *testing.T) {
	files := map[string]string{
		"config.json": `{"org": "filed", "data-dir": "/from/file", "max-peers": 5, "preset": "local",
			"trust": ["a.org", "b.org"], "bootstrap": ["/ip4/10.0.0.1/tcp/4101/p2p/` + somePeer + `"], "require-credentials": true}`,
		"config.toml": `org = "filed"
data-dir = "/from/file"
max-peers = 5
preset = "local"
trust = ["a.org", "b.org"]
bootstrap = ["/ip4/10.0.0.1/tcp/4101/p2p/` + somePeer + `"]
require-credentials = true
`,
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			cleanEnv(t)
			path := writeFile(t, name, content)
			t.Setenv("ORGPEER_MAX_PEERS", "7")
			t.Setenv("ORGPEER_DATA_DIR", "/from/env")
			t.Setenv("ORGPEER_BOOTSTRAP", "/ip4/10.0.0.2/tcp/4101/p2p/"+somePeer+",/ip4/10.0.0.3/tcp/4101/p2p/"+somePeer)
			s, err := parseRun([]string{"--config", path, "--org", "flagged", "--data-dir", "/from/flag"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			c := s.cfg
			local := node.LocalConfig()
			switch {
			case c.Org != "flagged" || c.DataDir != "/from/flag":
				t.Errorf("flags lost to a lower source: org %q, data dir %q", c.Org, c.DataDir)
			case c.MaxPeers != 7:
				t.Errorf("max-peers %d, want the environment's 7 over the file's 5", c.MaxPeers)
			case len(c.Bootstrap) != 2 || !strings.Contains(c.Bootstrap[0], "10.0.0.2"):
				t.Errorf("bootstrap %q, want the environment's two, none of the file's", c.Bootstrap)
			case !slices.Equal(c.Trust, []string{"a.org", "b.org"}) || !c.RequireCredentials:
				t.Errorf("the file's trust %q and require-credentials %v not taken", c.Trust, c.RequireCredentials)
			case c.HeartbeatInterval != local.HeartbeatInterval || c.APIAddr != local.APIAddr:
				t.Errorf("the file's preset not applied: heartbeat %v, api %s", c.HeartbeatInterval, c.APIAddr)
			}
		})
	}
	t.Run("config from the environment", func(t *testing.T) {
		cleanEnv(t)
		t.Setenv("ORGPEER_CONFIG", writeFile(t, "orgpeer.conf", `{"org": "acme", "data-dir": "/d"}`))
		if s, err := parseRun(nil, io.Discard); err != nil || s.cfg.Org != "acme" {
			t.Fatalf("ORGPEER_CONFIG not read: %v", err)
		}
	})
}

// TestRunSettingsDefaults: no settings at all give the lan preset's fixed
// ports and the default data dir.
func TestRunSettingsDefaults(t *testing.T) {
	cleanEnv(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, filepath.Join(home, ".local", "state", "orgpeer")},
		{map[string]string{"XDG_STATE_HOME": "/xdg"}, "/xdg/orgpeer"},
		{map[string]string{"XDG_STATE_HOME": "relative"}, filepath.Join(home, ".local", "state", "orgpeer")},
		{map[string]string{"XDG_STATE_HOME": "/xdg", "STATE_DIRECTORY": "/var/lib/orgpeer:/var/lib/other"}, "/var/lib/orgpeer"},
		{map[string]string{"XDG_STATE_HOME": "/xdg", "ORGPEER_DATA_DIR": "/env"}, "/env"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		s, err := parseRun([]string{"--org", "acme"}, io.Discard)
		if err != nil || s.cfg.DataDir != tc.want {
			t.Errorf("with %v: data dir %q (%v), want %q", tc.env, s.cfg.DataDir, err, tc.want)
		}
		for k := range tc.env {
			t.Setenv(k, "")
		}
	}
	s, _ := parseRun([]string{"--org", "acme"}, io.Discard)
	want := []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"}
	if !slices.Equal(s.cfg.ListenAddrs, want) || s.cfg.APIAddr != "127.0.0.1:4102" {
		t.Errorf("the default preset listens on %q, API %s; want %q, 127.0.0.1:4102", s.cfg.ListenAddrs, s.cfg.APIAddr, want)
	}
	if d, err := node.Preset("default"); err != nil || d.HeartbeatInterval != node.LANConfig().HeartbeatInterval {
		t.Errorf("preset default is not lan: %v", err)
	}
	w, _ := node.Preset("wan")
	if l := node.LANConfig(); w.HeartbeatInterval <= l.HeartbeatInterval || w.LivenessWindow <= l.LivenessWindow || w.ProbeAfter <= l.ProbeAfter {
		t.Errorf("wan timers %v/%v/%v not longer than lan's", w.HeartbeatInterval, w.LivenessWindow, w.ProbeAfter)
	}
}

// TestRunSettingsRefused: every bad setting is a usage error (exit 2) that
// names its source, and never shows a token.
func TestRunSettingsRefused(t *testing.T) {
	cleanEnv(t)
	const secret = "s3cret-token-value"
	tokenFile := writeFile(t, "token", "  "+secret+"\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown key in JSON", nil, []string{"--config", writeFile(t, "c.json", `{"org": "acme", "api-token": "`+secret+`", "colour": "blue"}`)}, `unknown key "colour"`},
		{"unknown key in TOML", nil, []string{"--config", writeFile(t, "c.toml", "org = \"acme\"\n[listen]\nport = 1\n")}, `unknown key "listen.port"`},
		{"bad value in the file", nil, []string{"--config", writeFile(t, "c.toml", "org = \"acme\"\nmax-peers = \"many\"\n")}, `max-peers = "many"`},
		{"not TOML", nil, []string{"--config", writeFile(t, "c.toml", "org = [\n")}, "not valid TOML"},
		{"not JSON", nil, []string{"--config", writeFile(t, "c.json", `{"org": `)}, "not valid JSON"},
		{"missing file", nil, []string{"--config", "/nonexistent/orgpeer.toml"}, "no such file"},
		{"bad variable", map[string]string{"ORGPEER_MAX_PEERS": "many"}, []string{"--org", "acme", "--data-dir", "/d"}, "ORGPEER_MAX_PEERS"},
		{"token twice", nil, []string{"--org", "acme", "--data-dir", "/d", "--api-token", secret, "--api-token-file", tokenFile}, "not both"},
		{"empty token file", nil, []string{"--org", "acme", "--data-dir", "/d", "--api-token-file", writeFile(t, "empty", "\n")}, "is empty"},
		{"unknown preset", nil, []string{"--org", "acme", "--data-dir", "/d", "--preset", "fast"}, "want lan, wan or local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := parseRun(tc.args, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v; want a one-line usage error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
	s, err := parseRun([]string{"--org", "acme", "--data-dir", "/d", "--api-token-file", tokenFile}, io.Discard)
	if err != nil || s.cfg.APIToken != secret {
		t.Fatalf("token from its file: %q, %v", s.cfg.APIToken, err)
	}
}

// TestSdNotify: the ready and stopping notices reach the socket systemd
// names, on the file system or in the abstract namespace; without one
// nothing is sent.
func TestSdNotify(t *testing.T) {
	cleanEnv(t)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@orgpeer-test-" + strings.ReplaceAll(t.Name(), "/", "-")} {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", name)
		if err := sdNotify("READY=1\nSTATUS=listening"); err != nil {
			t.Fatalf("notify %s: %v", name, err)
		}
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1\nSTATUS=listening" {
			t.Fatalf("socket %s got %q, %v", name, buf[:n], err)
		}
		conn.Close()
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if err := sdNotify("READY=1"); err == nil {
		t.Fatal("a socket nobody listens on: no error")
	}
}

// TestDeployConfigExample: the config file shipped for the systemd unit
// is one `orgpeer run` accepts.
func TestDeployConfigExample(t *testing.T) {
	cleanEnv(t)
	t.Setenv("STATE_DIRECTORY", t.TempDir()) // as under the unit
	s, err := parseRun([]string{"--config", filepath.Join("..", "..", "deploy", "orgpeer.toml")}, io.Discard)
	if err != nil || s.cfg.Org != "acme" || s.cfg.DataDir != os.Getenv("STATE_DIRECTORY") {
		t.Fatalf("deploy/orgpeer.toml: %v", err)
	}
}
