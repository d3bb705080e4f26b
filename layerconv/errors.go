package layerconv

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Reasons an input is refused. Every refusal is an *Error wrapping one of
// these, so callers can test with errors.Is and users read which file, which
// entry and why.
var (
	ErrPathEscapes       = errors.New("path escapes the root")
	ErrAbsolutePath      = errors.New("absolute path")
	ErrInvalidName       = errors.New("invalid name")
	ErrDuplicate         = errors.New("duplicate entry")
	ErrFileDirConflict   = errors.New("a file and a directory with the same path")
	ErrBelowSymlink      = errors.New("entry below a symlink (would write through a link)")
	ErrEncrypted         = errors.New("encrypted entries are not supported")
	ErrUnsupportedMethod = errors.New("unsupported compression method")
	ErrUnsupportedType   = errors.New("unsupported file type")
	ErrChecksum          = errors.New("CRC-32 mismatch")
	ErrSizeMismatch      = errors.New("declared size differs from the content")
	ErrCorrupt           = errors.New("truncated or corrupt archive")
	ErrTooLarge          = errors.New("uncompressed size exceeds the limit")
	ErrInvalidSymlink    = errors.New("invalid symlink")
	// ErrNameTooLong: Linux cannot create the path (a component over 255
	// bytes or a whole path over 4095, the prefix included), so GNU tar,
	// podman and Lambda's own unpacker would fail on the layer.
	ErrNameTooLong = errors.New("name too long")
	// ErrOutputIsInput: the output path is the input file itself (same
	// device and inode, whatever the spelling), which writing would destroy.
	ErrOutputIsInput = errors.New("would overwrite the input")
	// ErrWhiteout: a path component starting with .wh. is an OCI whiteout
	// marker, which would delete files of the base image or earlier layers.
	ErrWhiteout = errors.New("name starts with .wh. (an OCI whiteout: it would delete files from lower layers)")
)

// Error is a refused input or a failed conversion: the source (zip file or
// directory), the entry when one is to blame, and the reason.
type Error struct {
	Source string
	Entry  string // empty when the whole input is at fault
	Err    error
}

func (e *Error) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("layerconv: %s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("layerconv: %s: entry %q: %v", e.Source, shorten(e.Entry), e.Err)
}

// shortenOver is the entry length beyond which Error shows only the
// entry's ends: a 6 KB name would bury the reason (Error.Entry keeps it whole).
const shortenOver = 320

// shorten keeps the first 200 and the last 100 bytes of a long name (cut on
// rune boundaries), which is enough to find the entry in a listing.
func shorten(s string) string {
	if len(s) <= shortenOver {
		return s
	}
	head, tail := 200, len(s)-100
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return fmt.Sprintf("%s...(%d bytes left out)...%s", s[:head], len(s)-head-(len(s)-tail), s[tail:])
}

func (e *Error) Unwrap() error { return e.Err }

func entryErr(src, entry string, err error) error {
	return &Error{Source: src, Entry: entry, Err: err}
}

func srcErr(src string, err error) error {
	return &Error{Source: src, Err: err}
}
