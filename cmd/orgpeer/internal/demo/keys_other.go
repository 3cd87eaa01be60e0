//go:build !linux

package demo

import (
	"context"
	"errors"
)

// canReadKeys: single keys are read on Linux only; elsewhere the demo is
// driven by its churn and its dashboard.
const canReadKeys = false

func readKeys(context.Context, int, func(byte)) error {
	return errors.New("reading single keys is implemented on Linux only")
}
