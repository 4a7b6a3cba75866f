package ocssim

import (
	"testing"

	"github.com/sequencer-dev/sequencer/internal/golden"
)

func checkGolden(t *testing.T, name, got string) { golden.Check(t, name, got) }
