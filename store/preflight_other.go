//go:build !unix

package store

import "os"

// lockShared: without flock, preflight would read a file a daemon may be
// writing and could take a page in motion for damage; it is skipped.
func lockShared(*os.File) bool { return false }

func mapFile(*os.File) ([]byte, func(), error) { return nil, func() {}, nil }
