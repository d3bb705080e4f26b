package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RuntimeFile is one file of a language runtime layer: Body, or else the
// content of the host file Host, at Path in the image.
type RuntimeFile struct {
	Path string // in the image, relative to /
	Host string
	Body []byte
	Mode int64
	// Link makes the entry a symlink to Link.
	Link string
}

// LanguageBaseOptions describes a Lambda-like managed-runtime base: the
// busybox base without its shell runtime, plus one layer holding a real
// language runtime copied from the host and its /var/runtime/bootstrap.
type LanguageBaseOptions struct {
	BusyboxPath, RIEPath string
	// Files are the runtime's files (interpreter, shared libraries, standard
	// library, the runtime loop); Bootstrap is /var/runtime/bootstrap.
	Files     []RuntimeFile
	Bootstrap string
	// Env is appended to the AWS bases' ENV.
	Env []string
	// What names the runtime layer in the image history.
	What string
}

// BuildLanguageBase assembles the base: BuildBase's layers (busybox, the
// emulator, the entrypoint; no shell runtime) and a third layer with the
// runtime. Same host files, same digest.
func BuildLanguageBase(opts LanguageBaseOptions) (v1.Image, error) {
	img, err := BuildBase(BaseOptions{BusyboxPath: opts.BusyboxPath, RIEPath: opts.RIEPath, NoBootstrap: true})
	if err != nil {
		return nil, err
	}
	files := append([]RuntimeFile(nil), opts.Files...)
	files = append(files, RuntimeFile{Path: "var/runtime/bootstrap", Body: []byte(opts.Bootstrap), Mode: 0o755})
	entries, err := runtimeEntries(files)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tarBytes, err := tarLayer(entries, created)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	// Compressed once, here, at BestSpeed: the runtime layers are tens of
	// megabytes (node alone is ~100 MB), and an uncompressed opener would be
	// compressed again for the digest and for the push, on 2 shared cores
	// and under the race detector.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBytes); err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	}, tarball.WithMediaType(types.DockerLayer))
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     plainLayer{layer},
		MediaType: types.DockerLayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "e2e base: " + opts.What},
	})
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, opts.Env...)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", opts.What, err)
	}
	return img, nil
}

// runtimeEntries reads the host files and adds an entry for every parent
// directory (0755), so tarLayer finds each parent before its children.
func runtimeEntries(files []RuntimeFile) ([]tarEntry, error) {
	var out []tarEntry
	dirs := map[string]bool{}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				out = append(out, dir(d+"/", 0o755))
			}
		}
		switch {
		case f.Link != "":
			out = append(out, symlink(p, f.Link))
		case f.Host != "":
			b, err := os.ReadFile(f.Host)
			if err != nil {
				return nil, fmt.Errorf("runtime file %s: %w", p, err)
			}
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			out = append(out, file(p, mode, b))
		default:
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			out = append(out, file(p, mode, f.Body))
		}
	}
	return out, nil
}

// SharedLibraries is the shared-library closure of the host ELF files, as
// the dynamic loader resolves it (ldd): each library at the path ldd
// printed, content read through symlinks, plus the program interpreter.
// Libraries whose path is in skip (already in another layer) are left out.
func SharedLibraries(skip map[string]bool, elfFiles ...string) ([]RuntimeFile, error) {
	seen := map[string]bool{}
	var out []RuntimeFile
	for _, f := range elfFiles {
		cmd := exec.Command("ldd", f)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("ldd %s: %w\n%s", f, err, stderr.String())
		}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			var lib string
			if _, after, ok := strings.Cut(line, "=>"); ok {
				fields := strings.Fields(after)
				if len(fields) == 0 || !strings.HasPrefix(fields[0], "/") {
					if strings.Contains(line, "not found") {
						return nil, fmt.Errorf("ldd %s: %s", f, line)
					}
					continue // linux-vdso.so.1 =>  (0x...)
				}
				lib = fields[0]
			} else if fields := strings.Fields(line); len(fields) > 0 && strings.HasPrefix(fields[0], "/") {
				lib = fields[0] // the program interpreter
			}
			if lib == "" || seen[lib] || skip[lib] {
				continue
			}
			seen[lib] = true
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return nil, fmt.Errorf("ldd %s: %w", f, err)
			}
			out = append(out, RuntimeFile{Path: strings.TrimPrefix(lib, "/"), Host: real, Mode: 0o755})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// TreeFiles lists the regular files under the host directory root, to be
// placed under prefix in the image; directories named in skipDirs (at any
// depth) and files for which keep returns false are left out. Symlinks are
// followed (their content is copied).
func TreeFiles(root, prefix string, skipDirs []string, keep func(rel string) bool) ([]RuntimeFile, error) {
	skip := map[string]bool{}
	for _, d := range skipDirs {
		skip[d] = true
	}
	var out []RuntimeFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (skip[d.Name()] || skip[filepath.ToSlash(rel)]) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Stat(p)
		if err != nil || !info.Mode().IsRegular() {
			return nil // dangling or special: not part of the runtime
		}
		rel = filepath.ToSlash(rel)
		if keep != nil && !keep(rel) {
			return nil
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		out = append(out, RuntimeFile{Path: path.Join(prefix, rel), Host: p, Mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", root, err)
	}
	return out, nil
}
