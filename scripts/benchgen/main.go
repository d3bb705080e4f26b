// Command benchgen writes the inputs of scripts/bench-build.sh: Lambda layer
// zips of a realistic shape (a few thousand files, a mix of compressible
// source text and incompressible binary data, deflated like `zip -r` makes
// them) and a small code directory. Seeded, so every run measures the same
// bytes.
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("out", "", "directory to write layer1.zip, layer2.zip and code/ into")
	size := flag.Int64("size", 100<<20, "approximate uncompressed bytes per layer")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "benchgen: -out is required")
		os.Exit(2)
	}
	for i := 1; i <= 2; i++ {
		if err := writeLayer(filepath.Join(*out, fmt.Sprintf("layer%d.zip", i)), uint64(i), *size); err != nil {
			fmt.Fprintln(os.Stderr, "benchgen:", err)
			os.Exit(1)
		}
	}
	code := filepath.Join(*out, "code")
	if err := os.MkdirAll(code, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
	app := "def handler(event, context):\n    return {\"ok\": True}\n"
	if err := os.WriteFile(filepath.Join(code, "app.py"), []byte(app), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func writeLayer(path string, seed uint64, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, 42))
	zw := zip.NewWriter(f)
	words := strings.Fields("def class return import from self if else for in while try except raise with as lambda yield None True False print len range dict list str int")
	var written int64
	for n := 0; written < size; n++ {
		pkg := fmt.Sprintf("python/lib/python3.12/site-packages/pkg%02d/mod%02d", n%37, (n/37)%11)
		var name string
		var body []byte
		if n%5 == 4 {
			// Native-looking blobs: incompressible, larger.
			name = fmt.Sprintf("%s/data%04d.bin", pkg, n)
			body = make([]byte, 20<<10+r.IntN(120<<10))
			for i := range body {
				body[i] = byte(r.Uint32())
			}
		} else {
			name = fmt.Sprintf("%s/file%04d.py", pkg, n)
			var b strings.Builder
			for b.Len() < 4<<10+r.IntN(40<<10) {
				for range 8 + r.IntN(8) {
					b.WriteString(words[r.IntN(len(words))])
					b.WriteByte(' ')
				}
				b.WriteByte('\n')
			}
			body = []byte(b.String())
		}
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		fh.SetMode(0o644)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			return err
		}
		written += int64(len(body))
	}
	return zw.Close()
}
