package build

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// openWatch counts the times a file is opened, by any means (os.Open, a
// go-containerregistry layer's Compressed or Uncompressed), through
// inotify: the build under test takes no hooks.
type openWatch struct {
	fd int
}

func watchOpens(t *testing.T, path string) *openWatch {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	// inotify merges an event with an identical unread one before it, so
	// two opens in a row would count once: reads and closes in between
	// keep them apart.
	_, err = syscall.InotifyAddWatch(fd, path, syscall.IN_OPEN|syscall.IN_ACCESS|syscall.IN_CLOSE)
	require.NoError(t, err)
	return &openWatch{fd: fd}
}

// opens drains the events queued so far (inotify queues them when the open
// happens, so everything the caller did is in) and returns how many opens
// they report.
func (w *openWatch) opens(t *testing.T) int {
	t.Helper()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := syscall.Read(w.fd, buf)
		if err == syscall.EAGAIN {
			return n
		}
		require.NoError(t, err)
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			require.Zero(t, mask&syscall.IN_Q_OVERFLOW, "inotify queue overflow")
			if mask&syscall.IN_OPEN != 0 {
				n++
			}
			off += syscall.SizeofInotifyEvent + nameLen
		}
	}
}
