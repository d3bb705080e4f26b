package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteImageRefs writes refs one per line to path, atomically, for later
// CI steps (ko's --image-refs).
func WriteImageRefs(path string, refs []string) error {
	if err := writeFile(path, []byte(strings.Join(refs, "\n")+"\n")); err != nil {
		return fmt.Errorf("image refs %s: %w", path, err)
	}
	return nil
}

// RecordRefs decorates p: after p publishes, the references it pushed
// (REPO@sha256:…, one per line) are written atomically to path, for later
// CI steps — the way ko's recorder writes --image-refs. If the file cannot
// be written, p's publication is undone (what can be) and the error
// returned.
func RecordRefs(p Publisher, path string) Publisher { return &recorder{Publisher: p, path: path} }

type recorder struct {
	Publisher
	path string
}

func (r *recorder) Check(inputs []string) error {
	if err := r.Publisher.Check(inputs); err != nil {
		return err
	}
	if err := CheckFile(r.path); err != nil {
		return &PathError{Dest: "image references file", Path: r.path, Err: err}
	}
	if err := checkNotInput(r.path, inputs); err != nil {
		return &PathError{Dest: "image references file", Path: r.path, Err: err}
	}
	return nil
}

// Path keeps Multi's one-path-per-destination check working through the
// decorator.
func (r *recorder) Path() string {
	if pp, ok := r.Publisher.(pathed); ok {
		return pp.Path()
	}
	return ""
}

// Unwrap is the decorated publisher (StagerOf looks through it).
func (r *recorder) Unwrap() Publisher { return r.Publisher }

func (r *recorder) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	p, err := r.Publisher.Publish(ctx, img)
	if err != nil {
		return nil, err
	}
	if err := WriteImageRefs(r.path, allRefs(p)); err != nil {
		return nil, errors.Join(&PathError{Dest: "image references file", Path: r.path, Err: err}, p.Undo())
	}
	return p, nil
}

// allRefs are the references of p (a Multi already gathers its parts').
func allRefs(p *Publication) []string { return p.References }
