package publish

import (
	"context"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/registry"
)

// Publisher writes one built image to one destination.
type Publisher interface {
	// String names the destination in messages: "oci layout out/demo",
	// "tarball x.tar", "registry example.com/fn:1".
	String() string
	// Check refuses, before any build work, a destination that cannot be
	// written, or that is one of the build's inputs (the same file, by
	// device and inode, not by name).
	Check(inputs []string) error
	// Publish writes img. It is all-or-nothing: on error nothing of this
	// call remains.
	Publish(ctx context.Context, img v1.Image) (*Publication, error)
}

// Publication is what one Publish wrote.
type Publication struct {
	// Destination is the publisher's String.
	Destination string
	// References are REPO@sha256:… for every repository pushed to.
	References []string
	// Push is the registry's account of the push; nil if nothing was pushed.
	Push *registry.PushResult
	// Parts are the publications of a Multi, in order.
	Parts []*Publication

	undo func() error
}

// Undo removes exactly what the Publish that returned p added, and nothing
// anyone else added or references. A push cannot be undone: Undo leaves
// registries as they are. Undo runs at most once; later calls do nothing.
func (p *Publication) Undo() error {
	if p == nil || p.undo == nil {
		return nil
	}
	u := p.undo
	p.undo = nil
	return u()
}

// PathError is a destination on disk refused or failed: Dest says what it
// is ("oci layout", "tarball") and Path where, so a command can name the
// option that gave the path instead.
type PathError struct {
	Dest string
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Dest + " " + e.Path + ": " + e.Err.Error() }

func (e *PathError) Unwrap() error { return e.Err }

// checkNotInput refuses a destination that is one of the inputs: writing
// it would destroy what is being read. Compared by device and inode, so
// another spelling of the same path (or a hard link) is caught too.
func checkNotInput(path string, inputs []string) error {
	st, err := os.Stat(path)
	if err != nil {
		return nil // nothing there yet: it cannot be an input
	}
	for _, in := range inputs {
		ist, err := os.Stat(in)
		if err == nil && os.SameFile(st, ist) {
			if in == path {
				return errors.New("is also an input of the build: writing it would destroy the input")
			}
			return fmt.Errorf("is also an input of the build (%s): writing it would destroy the input", in)
		}
	}
	return nil
}
