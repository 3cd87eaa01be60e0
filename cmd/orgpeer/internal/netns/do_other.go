//go:build !linux

package netns

import "errors"

// Do fails: network namespaces are Linux's.
func Do(ns string, f func()) error { return errors.New("network namespaces are Linux's") }
