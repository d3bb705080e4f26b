package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayoutPrefix marks a base reference that is an OCI image layout on disk.
const LayoutPrefix = "oci:"

// refNameAnnotation is how an OCI layout names its entries.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Base is a fetched base image: a multi-platform index or a single image.
// Exactly one of Index and Image is non-nil.
type Base struct {
	// Ref is the reference the base was fetched by.
	Ref   string
	Index v1.ImageIndex
	Image v1.Image
}

// FetchBase resolves ref to an index or an image.
//
// ref is either "oci:PATH[:TAG]", an OCI image layout on disk, where TAG is
// matched against each entry's org.opencontainers.image.ref.name annotation
// (the full name, or just its tag part) and may be omitted when the layout
// holds exactly one entry; or a registry reference, fetched with the
// keychain and transport from opts.
//
// Remote images are lazy: their layers are fetched with ctx when read, so
// ctx must live as long as the returned Base is used (pass the command's
// context, not a per-step timeout).
func FetchBase(ctx context.Context, ref string, opts Options) (*Base, error) {
	if strings.HasPrefix(ref, LayoutPrefix) {
		return fetchLayoutBase(ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	ro, err := remoteOptions(ctx, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, classify("fetching base", ref, err)
	}
	b := &Base{Ref: ref}
	if desc.MediaType.IsIndex() {
		b.Index, err = desc.ImageIndex()
	} else {
		b.Image, err = desc.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	return b, nil
}

// fetchLayoutBase opens "oci:PATH[:TAG]". A colon may belong to the path,
// so PATH:TAG is only split where PATH is a layout and the whole is not.
func fetchLayoutBase(ref string) (*Base, error) {
	rest := strings.TrimPrefix(ref, LayoutPrefix)
	path, tag := rest, ""
	if !isLayout(rest) {
		// The tag may be a full name with colons (host:port/fn:tag), so
		// take the first colon whose left side is a layout.
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' && i > 0 && isLayout(rest[:i]) {
				path, tag = rest[:i], rest[i+1:]
				break
			}
		}
	}
	if !isLayout(path) {
		return nil, &Error{Kind: ErrBaseNotFound, Op: "opening base", Ref: ref,
			Err: fmt.Errorf("%s is not an OCI image layout (no index.json)", path)}
	}
	lp, err := layout.FromPath(path)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	raw, err := top.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("base %q: reading index.json: %w", ref, err)
	}
	// Every blob below index.json is read through verifiedLayout, which
	// checks it against its digest and size: go-containerregistry's
	// layout reader does not.
	vl := verifiedLayout{dir: path, path: lp}
	idx := &layoutIndex{l: vl, raw: raw, mt: types.OCIImageIndex}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("base %q: reading index.json: %w", ref, err)
	}
	desc, err := pickLayoutEntry(im.Manifests, tag)
	if err != nil {
		return nil, &Error{Kind: ErrBaseNotFound, Op: "opening base", Ref: ref, Err: err}
	}
	b := &Base{Ref: ref}
	switch {
	case desc.MediaType.IsIndex():
		b.Index, err = vl.index(desc)
	case desc.MediaType.IsImage():
		b.Image, err = vl.image(desc)
	default:
		err = fmt.Errorf("entry %s has media type %s, not an image or index", desc.Digest, desc.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", ref, err)
	}
	return b, nil
}

func isLayout(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "index.json"))
	return err == nil && st.Mode().IsRegular()
}

// pickLayoutEntry finds the entry named tag (full ref name or its tag
// part); with no tag the layout must hold exactly one entry.
func pickLayoutEntry(ds []v1.Descriptor, tag string) (v1.Descriptor, error) {
	var names []string
	for _, d := range ds {
		if n := d.Annotations[refNameAnnotation]; n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if tag == "" {
		if len(ds) == 1 {
			return ds[0], nil
		}
		return v1.Descriptor{}, fmt.Errorf("layout holds %d entries, name one with oci:PATH:TAG (names: %s)", len(ds), strings.Join(names, ", "))
	}
	// An exact name wins over tag-part matches: a layout holding the base
	// "latest" and a built "example.com/fn:latest" still opens as
	// oci:DIR:latest.
	var found []v1.Descriptor
	for _, d := range ds {
		if d.Annotations[refNameAnnotation] == tag {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		for _, d := range ds {
			if n := d.Annotations[refNameAnnotation]; n != "" && tagPart(n) == tag {
				found = append(found, d)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return v1.Descriptor{}, fmt.Errorf("no entry named %q (names: %s)", tag, strings.Join(names, ", "))
	}
	return v1.Descriptor{}, fmt.Errorf("%d entries match %q; use the full name", len(found), tag)
}

// tagPart returns "latest" for "example.com:5000/fn:latest"; a name with
// no tag is its own tag part (layouts written by skopeo use bare tags).
func tagPart(n string) string {
	i := strings.LastIndex(n, ":")
	if i < 0 || strings.Contains(n[i:], "/") {
		return n
	}
	return n[i+1:]
}

// classify turns a registry failure into a typed *Error where the kind is
// recognisable, keeping the registry's message.
func classify(op, ref string, err error) error {
	var typed *Error
	if errors.As(err, &typed) {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.NameUnknownErrorCode:
				return &Error{Kind: ErrRepositoryNotFound, Op: op, Ref: ref, Err: err}
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return &Error{Kind: ErrUnauthorized, Op: op, Ref: ref, Err: err}
			}
		}
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &Error{Kind: ErrUnauthorized, Op: op, Ref: ref, Err: err}
		case http.StatusNotFound:
			if op == "fetching base" {
				return &Error{Kind: ErrBaseNotFound, Op: op, Ref: ref, Err: err}
			}
		}
		// The registry's error codes do not always say which status came
		// with them ("UNAVAILABLE: ..."); the status helps tell a
		// registry outage from a bad request.
		if !strings.Contains(err.Error(), strconv.Itoa(terr.StatusCode)) {
			return fmt.Errorf("%s %s: HTTP %d: %w", op, ref, terr.StatusCode, err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}
