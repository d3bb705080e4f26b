//go:build unix

package layerconv

import (
	"os"
	"syscall"
)

// Temporaries are owned by a flock(2) lock held as long as they are in
// use, rather than by a PID in their name: a lock dies with its process
// (kill -9 included), cannot be mistaken for a reused PID, and holds
// across PID namespaces (containers sharing a cache volume).

// lock takes f's exclusive lock, waiting for nobody: f was just created.
// A filesystem without locks leaves f unlocked, and then tryLock fails
// too, so its temporaries are never swept rather than swept in use.
func lock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// tryLock takes f's exclusive lock if nobody holds it.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

func openNoFollow(p string, dir bool) (*os.File, error) {
	flag := os.O_RDONLY | syscall.O_NOFOLLOW
	if dir {
		flag |= syscall.O_DIRECTORY
	}
	return os.OpenFile(p, flag, 0)
}
