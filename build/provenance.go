package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/ctxio"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
	"github.com/lambda-oci/lambda-oci/registry"
)

// DevelVersion is the version recorded by any build that is not a
// release: a checkout, a test, a library user who does not say.
const DevelVersion = "(devel)"

// builderName is the provenance's builder field.
func builderName(version string) string {
	if version == "" {
		version = DevelVersion
	}
	return "lambda-oci " + version
}

// converterFormat is layerconv.ConverterVersion() without the module
// versions it appends from the build info: a test binary records no
// dependencies, a built one does, and the label must not make their
// digests differ. The format number and gzip parameters stay: they are
// what changes a layer's bytes on purpose.
func converterFormat() string {
	var keep []string
	for _, f := range strings.Fields(layerconv.ConverterVersion()) {
		if !strings.Contains(f, "@") {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// provenanceBaseName is how the provenance names a base: the reference as
// given, except an OCI layout on disk, named by its directory's base name
// (and tag), since the path says where this machine keeps it, and two
// checkouts must build the same digest.
func provenanceBaseName(ref string) string {
	rest, ok := strings.CutPrefix(ref, registry.LayoutPrefix)
	if !ok {
		return ref
	}
	p, tag := rest, ""
	if !isLocalDir(rest) {
		for i := 1; i < len(rest); i++ {
			if rest[i] == ':' && isLocalDir(rest[:i]) {
				p, tag = rest[:i], rest[i+1:]
				break
			}
		}
	}
	name := registry.LayoutPrefix + filepath.Base(filepath.Clean(p))
	if tag != "" {
		name += ":" + tag
	}
	return name
}

// annotationBaseName is the base.name annotation: only a registry
// reference (an oci: layout is not one).
func annotationBaseName(ref string) string {
	if ref == "" || strings.HasPrefix(ref, registry.LayoutPrefix) {
		return ""
	}
	return ref
}

// sourceID is an input's identity for the provenance.
type sourceID struct {
	sha256, tree string
}

// identify is the identity of an input: a layer version is its ARN and
// CodeSha256 (already verified), a zip file its sha256 (zipSHA256 when the
// conversion already hashed it, so the zip is not read again), a
// directory its TreeHash. Shared between the builds of a fleet, like
// conversions.
func (b *builder) identify(ctx context.Context, in input, zipSHA256 string) (sourceID, error) {
	if in.arn != "" {
		return sourceID{}, nil
	}
	if zipSHA256 != "" {
		return sourceID{sha256: zipSHA256}, nil
	}
	return b.opts.Shared.identity(ctx, in.path, func() (sourceID, error) {
		st, err := os.Stat(in.path)
		if err != nil {
			return sourceID{}, err
		}
		if st.IsDir() {
			t, err := TreeHash(ctx, in.path)
			return sourceID{tree: t}, err
		}
		s, err := fileSHA256(ctx, in.path)
		return sourceID{sha256: s}, err
	})
}

// TreeHash is a directory's content identity, as the provenance records it
// ("sha256:HEX"): the sha256 of one record per entry below dir, in the
// lexical order of their slash-separated paths (filepath.WalkDir's order),
// symlinks not followed. A record is NUL-terminated fields ending in a
// newline:
//
//	d PATH                      a directory
//	f PATH X SIZE SHA256HEX     a regular file; X is "x" when any execute bit is set, else "-"
//	f PATH X SIZE SHA256HEX V   a .pyc whose source is a regular file of the tree; V is
//	                            "valid" when its header matches the source's mtime and
//	                            size (the converter then records the layer's mtime in it),
//	                            else "stale"
//	l PATH TARGET               a symbolic link
//	o PATH MODE                 anything else (the converter decides about it)
//
// Only what the converter's output depends on is in it — names, types,
// contents, the execute bit, link targets, whether a .pyc is valid for its
// source — and nothing it replaces (mtimes, owners, other mode bits), so
// the same tree checked out anywhere has the same identity, and a
// different identity means a layer that may differ.
func TreeHash(ctx context.Context, dir string) (string, error) {
	type rec struct {
		fields []string
		head   []byte      // a regular file's first bytes
		info   fs.FileInfo // a regular file's
	}
	var recs []rec
	files := map[string]fs.FileInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			recs = append(recs, rec{fields: []string{"d", rel}})
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			sum, head, err := hashFile(ctx, p)
			if err != nil {
				return err
			}
			x := "-"
			if fi.Mode().Perm()&0o111 != 0 {
				x = "x"
			}
			files[rel] = fi
			recs = append(recs, rec{fields: []string{"f", rel, x, strconv.FormatInt(fi.Size(), 10), sum}, head: head, info: fi})
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			recs = append(recs, rec{fields: []string{"l", rel, target}})
		default:
			recs = append(recs, rec{fields: []string{"o", rel, t.String()}})
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing directory %s: %w", dir, err)
	}
	h := sha256.New()
	for _, r := range recs {
		fields := r.fields
		if r.info != nil {
			if src, ok := layerconv.PycSource(fields[1]); ok {
				if sfi := files[src]; sfi != nil {
					v := "stale"
					if layerconv.PycValidInDir(r.head, sfi) {
						v = "valid"
					}
					fields = append(fields, v)
				}
			}
		}
		for _, f := range fields {
			io.WriteString(h, f)
			h.Write([]byte{0})
		}
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// pycHead is how many first bytes of a file TreeHash keeps: a .pyc header.
const pycHead = 16

// fileSHA256 is the hex sha256 of a file's content.
func fileSHA256(ctx context.Context, p string) (string, error) {
	sum, _, err := hashFile(ctx, p)
	return sum, err
}

// hashFile is the hex sha256 of a file's content and its first bytes.
func hashFile(ctx context.Context, p string) (string, []byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	h := sha256.New()
	var head headBuf
	if _, err := io.Copy(io.MultiWriter(h, &head), ctxio.Reader(ctx, f)); err != nil {
		return "", nil, fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), head.b, nil
}

// headBuf keeps the first pycHead bytes written to it.
type headBuf struct{ b []byte }

func (w *headBuf) Write(p []byte) (int, error) {
	if n := pycHead - len(w.b); n > 0 {
		w.b = append(w.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// provenance is what this build records about itself.
func (b *builder) provenance(baseChecked []checks.Layer, adds []*added, fam lambda.Family, ver string, baseHasBootstrap bool) *image.Provenance {
	p := &image.Provenance{
		Schema:    image.ProvenanceSchema,
		Builder:   builderName(b.opts.Version),
		Converter: converterFormat(),
		Handler:   b.spec.Handler,
		Base: image.BaseProvenance{Name: provenanceBaseName(b.res.Base), Digest: b.res.BaseDigest.String(),
			Bootstrap: baseHasBootstrap},
		Layers: []image.ProvenanceLayer{},

		AllowArchMismatch: b.spec.AllowArchMismatch,
		NoPycRewrite:      b.spec.NoPycRewrite,
	}
	for _, l := range baseChecked {
		p.Base.Layers = append(p.Base.Layers, image.ProvenanceBaseLayer{Digest: l.Digest.String(), Size: l.Listing.UncompressedSize})
	}
	for _, a := range adds {
		p.Layers = append(p.Layers, image.ProvenanceLayer{
			Kind: a.info.Kind, Source: a.info.Source, ARN: a.info.ARN, CodeSha256: a.info.CodeSha256,
			SHA256: a.id.sha256, Tree: a.id.tree,
			Digest: a.info.Digest.String(), DiffID: a.info.DiffID.String(), Size: a.info.UncompressedSize,
		})
	}
	seen := map[string]bool{}
	for _, kv := range b.spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !seen[k] {
			seen[k] = true
			p.Env = append(p.Env, k)
		}
	}
	if fam != "" {
		p.Runtime = &image.ProvenanceRuntime{Family: string(fam), Version: ver}
	}
	return p
}

// Provenance is what an image records about how it was made (see
// image.Provenance), here for the callers of build.
type Provenance = image.Provenance

// ReadProvenance reads the provenance label of an image config: nil, nil
// when there is none.
func ReadProvenance(cf *v1.ConfigFile) (*Provenance, error) { return image.ReadProvenance(cf) }
