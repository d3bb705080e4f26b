package build

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

// benchLayer is a layer zip of about size bytes: a few hundred files, a
// mix of compressible text and incompressible binary data.
func benchLayer(b *testing.B, seed uint64, size int) (string, int64) {
	r := rand.New(rand.NewPCG(seed, 7))
	var files []basegen.File
	var total int64
	for n := 0; total < int64(size); n++ {
		var body []byte
		if n%4 == 3 {
			body = make([]byte, 64<<10)
			for i := range body {
				body[i] = byte(r.Uint32())
			}
		} else {
			body = []byte(strings.Repeat(fmt.Sprintf("def f%d(x):\n    return x * %d\n", n, r.IntN(1000)), 600))
		}
		files = append(files, basegen.File{Name: fmt.Sprintf("python/pkg%02d/m%04d.py", n%20, n), Mode: 0o644, Body: string(body)})
		total += int64(len(body))
	}
	zb, err := basegen.Zip(files)
	if err != nil {
		b.Fatal(err)
	}
	p := fmt.Sprintf("%s/layer%d.zip", b.TempDir(), seed)
	if err := writeFile(p, zb); err != nil {
		b.Fatal(err)
	}
	return p, total
}

// BenchmarkBuild: two ~16 MB layers and small code onto the testdata base,
// cold (no cache: convert, measure, scan) and warm (everything cached).
func BenchmarkBuild(b *testing.B) {
	base, err := basegen.Image("x86_64")
	if err != nil {
		b.Fatal(err)
	}
	l1, n1 := benchLayer(b, 1, 16<<20)
	l2, n2 := benchLayer(b, 2, 16<<20)
	code := b.TempDir()
	if err := writeFile(code+"/app.py", []byte("def handler(e, c):\n    return 1\n")); err != nil {
		b.Fatal(err)
	}
	opts := tOpts{Base: base, Arch: "x86_64", Layers: []Source{{Path: l1}, {Path: l2}},
		Code: Source{Path: code}, Handler: "app.handler", Created: fixedTime}
	run := func(b *testing.B, cacheDir string) {
		opts.CacheDir = cacheDir
		b.SetBytes(n1 + n2)
		for b.Loop() {
			res, err := tBuild(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := res.Image.RawManifest(); err != nil {
				b.Fatal(err)
			}
			res.Close()
		}
	}
	b.Run("cold", func(b *testing.B) { run(b, "") })
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		if res, err := tBuild(context.Background(), tOpts{Base: base, Arch: "x86_64", Layers: opts.Layers,
			Code: opts.Code, Handler: opts.Handler, Created: fixedTime, CacheDir: dir}); err != nil {
			b.Fatal(err)
		} else {
			res.Close()
		}
		run(b, dir)
	})
}
