package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/registry"
)

// LockName is the lock file's name, written next to the config file.
const LockName = "lambda-oci.lock"

// lockVersion is the lock format's version.
const lockVersion = 1

// LockPath is the lock file beside the config file at configPath.
func LockPath(configPath string) string { return filepath.Join(filepath.Dir(configPath), LockName) }

// Lock pins what each function was built from: the base's digest for its
// platform and every input's identity with the layer digest it produced.
// Paths in it are relative to the file, so it can be committed.
type Lock struct {
	Version   int                       `json:"version"`
	Functions map[string]LockedFunction `json:"functions"`
}

// LockedFunction is one function's pins.
type LockedFunction struct {
	Base       string        `json:"base"`
	Platform   string        `json:"platform"`
	BaseDigest string        `json:"baseDigest"`
	Layers     []LockedInput `json:"layers"`
	Code       LockedInput   `json:"code"`
}

// LockedInput is one input and the layer it produced.
type LockedInput struct {
	// Source is the path (relative to the file) or the layer version ARN
	// the function is built with.
	Source string `json:"source"`
	// Requested is the layer version ARN lambda-oci.yaml names when it is
	// not Source: "update --layers" moved the lock to a newer version of
	// the layer and left the file as it is. The lock's version is used for
	// as long as the file still names this one (see Lock.Pin).
	Requested string `json:"requested,omitempty"`
	// CodeSha256 is Lambda's digest of a layer version's zip.
	CodeSha256 string `json:"codeSha256,omitempty"`
	// SHA256 is the hex sha256 of a zip input (directories have none:
	// their layer digest is their identity).
	SHA256 string `json:"sha256,omitempty"`
	// Digest is the layer the input became; "" for a layer version that
	// "update --layers" moved to and no build has converted yet (its zip
	// is pinned by CodeSha256; the next build without --locked records
	// the digest).
	Digest string `json:"digest"`
}

// ReadLock reads a lock file; a missing one is an empty lock.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Lock{Version: lockVersion, Functions: map[string]LockedFunction{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if l.Version != lockVersion {
		return nil, fmt.Errorf("lock %s: version %d: want %d", path, l.Version, lockVersion)
	}
	if l.Functions == nil {
		l.Functions = map[string]LockedFunction{}
	}
	return &l, nil
}

// Write writes the lock atomically (keys sorted, so it diffs well).
func (l *Lock) Write(path string) error {
	l.Version = lockVersion
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, append(data, '\n'), 0o644, renameio.WithStaticPermissions(0o644)); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return nil
}

// Prune drops the functions the file no longer has.
func (l *Lock) Prune(f *File) {
	keep := map[string]bool{}
	for _, fn := range f.Functions {
		keep[fn.Name] = true
	}
	for n := range l.Functions {
		if !keep[n] {
			delete(l.Functions, n)
		}
	}
}

// LockFunction is what a build result of fn pins, with paths relative to
// the file's directory. fn is the function as the file gives it: a layer
// built at another version than the file names (Pin) records the file's
// ARN as Requested.
func (f *File) LockFunction(fn Function, res *build.Result) (LockedFunction, error) {
	lf := LockedFunction{Base: f.rel(res.Base), Platform: res.Platform.OS + "/" + res.Platform.Architecture, BaseDigest: res.BaseDigest.String()}
	layer := 0
	for _, l := range res.Layers {
		if l.Kind != "layer" && l.Kind != "code" {
			continue
		}
		in := LockedInput{Digest: l.Digest.String(), CodeSha256: l.CodeSha256}
		if l.Kind == "layer" {
			// One result layer per spec layer, in order.
			if layer < len(fn.Spec.Layers) && l.ARN != "" && fn.Spec.Layers[layer].Path != l.ARN {
				in.Requested = fn.Spec.Layers[layer].Path
			}
			layer++
		}
		if l.ARN != "" {
			in.Source = l.ARN
		} else {
			in.Source = f.relPath(l.Path)
			sum, err := fileSHA256(l.Path)
			if err != nil {
				return lf, err
			}
			in.SHA256 = sum
		}
		if l.Kind == "code" {
			lf.Code = in
		} else {
			lf.Layers = append(lf.Layers, in)
		}
	}
	return lf, nil
}

// Diff lists what differs from want to got, one change a line ("" for none).
func (want LockedFunction) Diff(got LockedFunction) []string {
	var out []string
	if want.Base != got.Base {
		out = append(out, fmt.Sprintf("base %s -> %s", want.Base, got.Base))
	}
	if want.Platform != got.Platform {
		out = append(out, fmt.Sprintf("platform %s -> %s", want.Platform, got.Platform))
	}
	if want.BaseDigest != got.BaseDigest {
		out = append(out, fmt.Sprintf("base digest %s -> %s", want.BaseDigest, got.BaseDigest))
	}
	if len(want.Layers) != len(got.Layers) {
		out = append(out, fmt.Sprintf("%d layers -> %d", len(want.Layers), len(got.Layers)))
	} else {
		for i := range want.Layers {
			out = append(out, want.Layers[i].diff(fmt.Sprintf("layer %d", i+1), got.Layers[i])...)
		}
	}
	return append(out, want.Code.diff("code", got.Code)...)
}

func (want LockedInput) diff(what string, got LockedInput) []string {
	var out []string
	if want.Source != got.Source {
		return []string{fmt.Sprintf("%s %s -> %s", what, want.Source, got.Source)}
	}
	if want.CodeSha256 != got.CodeSha256 {
		out = append(out, fmt.Sprintf("%s %s CodeSha256 %s -> %s", what, want.Source, want.CodeSha256, got.CodeSha256))
	}
	if want.SHA256 != got.SHA256 {
		out = append(out, fmt.Sprintf("%s %s sha256 %s -> %s", what, want.Source, want.SHA256, got.SHA256))
	}
	// An empty digest is a version update --layers moved to: its bytes
	// are pinned by CodeSha256 and no build has recorded its layer yet.
	if want.Digest != got.Digest && (want.Digest != "" || want.CodeSha256 == "") {
		out = append(out, fmt.Sprintf("%s %s layer %s -> %s", what, want.Source, want.Digest, got.Digest))
	}
	return out
}

// LockBase is a base reference as the lock records it (an oci: path
// relative to the file).
func (f *File) LockBase(ref string) string { return f.rel(ref) }

// rel writes an oci: base's path relative to the file.
func (f *File) rel(ref string) string {
	rest, ok := strings.CutPrefix(ref, registry.LayoutPrefix)
	if !ok {
		return ref
	}
	return registry.LayoutPrefix + f.relPath(rest)
}

func (f *File) relPath(p string) string {
	if r, err := filepath.Rel(f.Dir, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}

// fileSHA256 is the hex sha256 of a regular file; "" for a directory.
func fileSHA256(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	if st.IsDir() {
		return "", nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("lock: %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
