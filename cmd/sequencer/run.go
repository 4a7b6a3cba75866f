package main

import (
	"context"
	"errors"
	"io"
)

func init() {
	register("run", "run the daemon (embedded OCS simulator and examples/ by default)", cmdRun)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("run: the daemon is not built yet (issue #8)")
}
