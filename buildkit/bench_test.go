package buildkit_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/buildkit"
	"github.com/lambda-oci/lambda-oci/internal/testbuildkit"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// benchLayer is a layer zip of n files of size bytes each, seeded, half
// random bytes (as native code compresses) and half text.
func benchLayer(b *testing.B, name string, seed int64, n, size int) string {
	rng := rand.New(rand.NewSource(seed))
	var files []testutil.File
	for i := 0; i < n; i++ {
		buf := make([]byte, size)
		rng.Read(buf[:size/2])
		for j := size / 2; j < size; j++ {
			buf[j] = "abcdefghij \n"[rng.Intn(12)]
		}
		files = append(files, testutil.F(fmt.Sprintf("python/pkg%d/mod%03d.py", seed, i), 0o644, string(buf)))
	}
	return testutil.WriteZip(b, name, files...)
}

// BenchmarkBuild compares the two backends in one run, on one machine, each
// pushing to the same local docker-registry: "cold" is an empty conversion
// cache, a new repository and (for buildkitd) a new daemon; "code-only" is
// a rebuild after only the code changed, everything else warm.
// Two layers of 40 x 512 KiB (20 MiB each) and one code file.
func BenchmarkBuild(b *testing.B) {
	// The registry alone: each benchmark starts its own daemons.
	reg := env{reg: testregistry.Start(b, testregistry.Options{})}
	base := reg.pushBase(b, "bench/base", true)
	layers := []build.Source{
		{Path: benchLayer(b, "layer1.zip", 1, 40, 512<<10)},
		{Path: benchLayer(b, "layer2.zip", 2, 40, 512<<10)},
	}
	spec := func(code string) build.Spec {
		return build.Spec{Base: base, Arch: "x86_64", Handler: "app.handler", Created: testutil.FixedTime,
			Layers: layers, Code: build.Source{Path: codeDir(b, code), Name: "code"}}
	}
	ctx := context.Background()
	repo := 0
	tag := func() string { repo++; return fmt.Sprintf("%s/bench/fn%d:v1", reg.reg.Host, repo) }

	inProcess := func(b *testing.B, s build.Spec, cache, tag string) {
		_, _, err := build.Publish(ctx, s, publish.Registry([]string{tag}, registry.Options{}), build.Options{CacheDir: cache})
		require.NoError(b, err)
	}
	var daemon *testbuildkit.Daemon
	onDaemon := func(b *testing.B, s build.Spec, cache, tag string) {
		_, err := buildkit.Build(ctx, s, buildkit.Options{Address: daemon.Address, Tags: []string{tag}, Build: build.Options{CacheDir: cache}})
		require.NoError(b, err)
	}
	for _, backend := range []struct {
		name  string
		build func(*testing.B, build.Spec, string, string)
	}{{"in-process", inProcess}, {"buildkitd", onDaemon}} {
		b.Run(backend.name+"/cold", func(b *testing.B) {
			b.SetBytes(40 << 20)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if backend.name == "buildkitd" {
					daemon = testbuildkit.Start(b)
				}
				s, cache, tg := spec("1"), b.TempDir(), tag()
				b.StartTimer()
				backend.build(b, s, cache, tg)
			}
		})
		b.Run(backend.name+"/code-only", func(b *testing.B) {
			if backend.name == "buildkitd" {
				daemon = testbuildkit.Start(b)
			}
			cache, tg := b.TempDir(), tag()
			backend.build(b, spec("0"), cache, tg)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := spec(fmt.Sprint(i + 1))
				b.StartTimer()
				backend.build(b, s, cache, tg)
			}
		})
	}
}
