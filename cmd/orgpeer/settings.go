package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/fftoml"
)

// envPrefix names the environment variables that stand in for flags:
// ORGPEER_DATA_DIR for --data-dir, ORGPEER_API_TOKEN for --api-token.
const envPrefix = "ORGPEER"

// envName is the environment variable of the flag name.
func envName(flagName string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseWithConfig parses args into fs, then sets what they left unset from
// ORGPEER_* variables, then from the file of the flag "config" (JSON or
// TOML, keys are flag names): flags > environment > file. A repeatable flag
// takes all its values from the first source that has it: a list in the
// file, commas in a variable. Every mistake is a usageError naming its
// source.
func parseWithConfig(fs *flag.FlagSet, args []string) error {
	// The command line first, with its own messages; ff then sees every
	// flag it set as provided and parses no further arguments.
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	err := ff.Parse(fs, nil,
		ff.WithEnvVarPrefix(envPrefix),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(func(r io.Reader, set func(name, value string) error) error {
			return parseConfigFile(fs, filepath.Ext(fs.Lookup("config").Value.String()), r, set)
		}),
	)
	var ce *configError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return usagef("%s: --config %s: %v", fs.Name(), fs.Lookup("config").Value, ce.msg)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return usagef("%s: --config: %v", fs.Name(), err)
	}
	return usagef("%s: %s", fs.Name(), strings.TrimPrefix(err.Error(), "error parsing environment variables: "))
}

// configError is a mistake in the config file.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// parseConfigFile reads a config file for fs: TOML when its name ends in
// .toml, JSON when in .json, else JSON if it starts with "{" and TOML if
// not. A key that is no flag of fs is an error.
func parseConfigFile(fs *flag.FlagSet, ext string, r io.Reader, set func(name, value string) error) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	parse, format := ff.ConfigFileParser(fftoml.Parser), "TOML"
	if ext == ".json" || ext != ".toml" && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		parse, format = ff.JSONParser, "JSON"
	}
	err = parse(bytes.NewReader(b), func(name, value string) error {
		if name == "config" || fs.Lookup(name) == nil {
			return &configError{fmt.Sprintf("unknown key %q (the keys are the flags of `%s -h`, without dashes)", name, fs.Name())}
		}
		if err := set(name, value); err != nil {
			var inner error = err
			if u := errors.Unwrap(err); u != nil {
				inner = u
			}
			return &configError{fmt.Sprintf("%s = %q: %v", name, value, inner)}
		}
		return nil
	})
	var ce *configError
	if err != nil && !errors.As(err, &ce) {
		inner := err
		if u := errors.Unwrap(err); u != nil {
			inner = u
		}
		return &configError{fmt.Sprintf("not valid %s: %v", format, inner)}
	}
	return err
}

// applyEnv sets each of names that args left unset from its ORGPEER_*
// variable: the query commands take only these from the environment, as
// ORGPEER_ORG, say, means the node's organization and not a filter.
func applyEnv(fs *flag.FlagSet, names ...string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range names {
		v := os.Getenv(envName(name))
		if given[name] || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return usagef("%s: %s: %v", fs.Name(), envName(name), err)
		}
	}
	return nil
}

// readTokenFile returns the API token in path: its content without
// surrounding white space.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("--api-token-file: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("--api-token-file %s is empty", path)
	}
	return tok, nil
}

// apiToken is the token of --api-token or --api-token-file (never both).
func apiToken(token, file string) (string, error) {
	switch {
	case token != "" && file != "":
		return "", usagef("give --api-token or --api-token-file, not both")
	case file != "":
		return readTokenFile(file)
	}
	return token, nil
}

// defaultDataDir is the data dir when no flag, variable or config file
// names one: systemd's $STATE_DIRECTORY (StateDirectory=orgpeer), else
// $XDG_STATE_HOME/orgpeer, else ~/.local/state/orgpeer.
func defaultDataDir() (string, error) {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "orgpeer"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", usagef("no default data dir (%v): give --data-dir or set ORGPEER_DATA_DIR", err)
	}
	return filepath.Join(home, ".local", "state", "orgpeer"), nil
}

// dataDirHelp is the help of every --data-dir flag.
const dataDirHelp = "data dir: identity and state (default $STATE_DIRECTORY under systemd, else $XDG_STATE_HOME/orgpeer or ~/.local/state/orgpeer)"
