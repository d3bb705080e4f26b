package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// baseEnv is the ENV every AWS Lambda base image carries (lambda.md).
var baseEnv = []string{
	"LANG=en_US.UTF-8",
	"TZ=:/etc/localtime",
	"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	"LAMBDA_TASK_ROOT=/var/task",
	"LAMBDA_RUNTIME_DIR=/var/runtime",
}

// applets are the busybox links the entrypoint, the runtime and the test
// handlers use.
var applets = []string{
	"[", "awk", "basename", "cat", "chmod", "cp", "cut", "date", "dirname", "echo", "env",
	"expr", "false", "grep", "head", "id", "ls", "mkdir", "mktemp", "mv", "printf", "rm",
	"sed", "sh", "sleep", "stat", "tail", "test", "timeout", "tr", "true", "wc", "wget",
}

// BaseOptions describes a Lambda-like base image.
type BaseOptions struct {
	// BusyboxPath and RIEPath are host files copied into the image: a static
	// busybox and a static aws-lambda-rie.
	BusyboxPath, RIEPath string
	// NoBootstrap leaves out /var/runtime/bootstrap, like a provided.* base
	// whose runtime comes with the function.
	NoBootstrap bool
	// OCI selects OCI media types; the default is Docker schema 2, what the
	// AWS base images use.
	OCI bool
	// Arch is the GOARCH-style architecture recorded in the config
	// (default: the host's). The binaries are the host's either way.
	Arch string
	// Created stamps the config and the tar entries (default: 2026-01-01).
	Created time.Time
}

// BuildBase assembles the base image: layer 1 holds busybox, its applet
// links, the emulator and the directory skeleton; layer 2 the entrypoint and
// (unless NoBootstrap) the shell runtime. Same options, same digest.
func BuildBase(opts BaseOptions) (v1.Image, error) {
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.Created.IsZero() {
		opts.Created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	busybox, err := os.ReadFile(opts.BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("base image: reading busybox: %w", err)
	}
	rie, err := os.ReadFile(opts.RIEPath)
	if err != nil {
		return nil, fmt.Errorf("base image: reading aws-lambda-rie: %w", err)
	}

	sys := []tarEntry{
		dir("bin/", 0o755), file("bin/busybox", 0o755, busybox),
		dir("etc/", 0o755),
		file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n")),
		file("etc/group", 0o644, []byte("root:x:0:\nsbx_user1051:x:990:\n")),
		dir("opt/", 0o755), dir("tmp/", 0o1777),
		dir("usr/", 0o755), dir("usr/local/", 0o755), dir("usr/local/bin/", 0o755),
		file("usr/local/bin/aws-lambda-rie", 0o755, rie),
		dir("var/", 0o755), dir("var/runtime/", 0o755), dir("var/task/", 0o755),
	}
	for _, a := range applets {
		sys = append(sys, symlink("bin/"+a, "busybox"))
	}
	rt := []tarEntry{file("lambda-entrypoint.sh", 0o755, []byte(entrypointScript))}
	if !opts.NoBootstrap {
		rt = append(rt, dir("var/", 0o755), dir("var/runtime/", 0o755),
			file("var/runtime/bootstrap", 0o755, []byte(bootstrapScript)))
	}

	layerType, manifestType, configType := types.DockerLayer, types.DockerManifestSchema2, types.DockerConfigJSON
	if opts.OCI {
		layerType, manifestType, configType = types.OCILayer, types.OCIManifestSchema1, types.OCIConfigJSON
	}
	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: opts.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: opts.Created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env:        append([]string(nil), baseEnv...),
			WorkingDir: "/var/task",
			Entrypoint: []string{"/lambda-entrypoint.sh"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("base image: config: %w", err)
	}
	for _, l := range []struct {
		what    string
		entries []tarEntry
	}{
		{"busybox, aws-lambda-rie and the directory skeleton", sys},
		{"lambda-entrypoint.sh and the shell runtime", rt},
	} {
		tarBytes, err := tarLayer(l.entries, opts.Created)
		if err != nil {
			return nil, fmt.Errorf("base image: layer %q: %w", l.what, err)
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(tarBytes)), nil
		}, tarball.WithMediaType(layerType))
		if err != nil {
			return nil, fmt.Errorf("base image: layer %q: %w", l.what, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     plainLayer{layer},
			MediaType: layerType,
			History:   v1.History{Created: v1.Time{Time: opts.Created}, CreatedBy: "e2e base: " + l.what},
		})
		if err != nil {
			return nil, fmt.Errorf("base image: appending layer %q: %w", l.what, err)
		}
	}
	return img, nil
}

// PushIndex pushes img as a one-platform index (what public.ecr.aws serves
// for the AWS bases) under ref and returns the index digest.
func PushIndex(ctx context.Context, ref name.Reference, img v1.Image, opts ...remote.Option) (v1.Hash, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	indexType := types.DockerManifestList
	if mt == types.OCIManifestSchema1 {
		indexType = types.OCIImageIndex
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, indexType), mutate.IndexAddendum{
		Add: img,
		Descriptor: v1.Descriptor{
			MediaType: mt,
			Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
		},
	})
	if err := remote.WriteIndex(ref, idx, append(opts, remote.WithContext(ctx))...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d, nil
}

type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func dir(name string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func file(name string, mode int64, body []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

// tarLayer writes the entries sorted by name, root-owned, with one mtime, so
// the layer's digest depends only on its content. Duplicate names (parent
// directories listed twice) are written once.
func tarLayer(entries []tarEntry, mtime time.Time) ([]byte, error) {
	sorted := append([]tarEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].hdr.Name < sorted[j].hdr.Name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, e := range sorted {
		if seen[e.hdr.Name] {
			continue
		}
		seen[e.hdr.Name] = true
		if parent := path.Dir(strings.TrimSuffix(e.hdr.Name, "/")); parent != "." && !seen[parent+"/"] {
			return nil, fmt.Errorf("entry %q: parent directory %q has no entry before it", e.hdr.Name, parent+"/")
		}
		hdr := e.hdr
		hdr.ModTime = mtime
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plainLayer hides the tarball layer's Descriptor method, whose empty (not
// nil) annotations map makes Manifest() differ from the parsed RawManifest
// and validate.Image fail; the bytes pushed are the same either way.
type plainLayer struct{ v1.Layer }
