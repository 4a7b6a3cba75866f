package store_test

import (
	"path/filepath"
	"testing"

	"github.com/sequencer-dev/sequencer/store"
	"github.com/sequencer-dev/sequencer/store/storetest"
)

func TestTheBboltStorePassesTheConformanceSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := store.Open(filepath.Join(t.TempDir(), store.FileName), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
