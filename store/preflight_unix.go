//go:build unix

package store

import (
	"os"
	"syscall"
)

// lockShared takes a shared lock on f for as long as f is open, unless a
// writer holds the file (false). bbolt locks the same way, so a daemon's
// exclusive lock keeps preflight out and preflight keeps writers out.
func lockShared(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil
}

// mapFile maps f read-only: preflight walks every page in use, and
// copying them would double the cost of a start.
func mapFile(f *os.File) (data []byte, unmap func(), err error) {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 || int64(int(info.Size())) != info.Size() {
		return nil, nil, err
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(info.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() { syscall.Munmap(data) }, nil
}
