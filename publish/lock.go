package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Writers to one OCI layout coordinate with an advisory lock (flock(2)) on
// the layout directory itself, not on a lock file. A file inside the layout
// could not exist before the layout does (creation must be coordinated
// too), and one beside it would need a writable parent, be left behind
// after every run (and after kill -9) and show up as an unexpected file
// next to the output; a directory lock adds nothing to the layout that
// skopeo, umoci or podman could stumble on, and dies with the process
// that holds it. Creation needs no lock on dir: a new layout is built in a
// locked temporary directory and renamed into place with RENAME_NOREPLACE.
// flock is not honoured over every network file system (NFS emulates it
// with byte-range locks, which a directory cannot take): share layouts
// between concurrent runs on local disks.

// dirLock is a held flock on an open directory.
type dirLock struct {
	f *os.File
}

// lockDir opens dir and locks it (unix.LOCK_SH or LOCK_EX), waiting for
// other holders as long as ctx allows. errRetry means dir was removed or
// replaced meanwhile: the lock is then on a directory nobody else will
// look at.
func lockDir(ctx context.Context, dir string, how int) (*dirLock, error) {
	f, err := os.Open(dir)
	if missing(err) {
		return nil, errRetry
	}
	if err != nil {
		return nil, err
	}
	l := &dirLock{f: f}
	if err := l.relock(ctx, how); err != nil {
		l.unlock()
		return nil, err
	}
	if !l.current(dir) {
		l.unlock()
		return nil, errRetry
	}
	return l, nil
}

// lockPollMax caps the wait between attempts: flock cannot be interrupted
// by a context, so waiting polls with LOCK_NB.
const lockPollMax = 100 * time.Millisecond

// relock takes the lock as how, converting a held one. Converting is not
// atomic (flock drops the old lock first), so callers recheck what they
// depend on after it.
func (l *dirLock) relock(ctx context.Context, how int) error {
	delay := time.Millisecond
	for {
		err := unix.Flock(int(l.f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("locking %s: %w", l.f.Name(), err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
}

// current reports whether dir still names the locked directory.
func (l *dirLock) current(dir string) bool {
	held, err := l.f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(dir)
	return err == nil && os.SameFile(held, now)
}

// unlock releases the lock (closing the descriptor releases it).
func (l *dirLock) unlock() { _ = l.f.Close() }

// tryLock reports whether nobody holds a lock on path, by taking and
// releasing an exclusive one without waiting.
func tryLock(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
