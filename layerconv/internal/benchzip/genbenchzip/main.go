// Command genbenchzip writes a benchmark layer zip (see package benchzip) for
// scripts/bench-compare.sh, bench-build.sh and bench-push.sh.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lambda-oci/lambda-oci/layerconv/internal/benchzip"
)

func main() {
	out := flag.String("o", "", "output zip path")
	size := flag.Int64("size", 100<<20, "approximate uncompressed size in bytes")
	seed := flag.Uint64("seed", 0, "seed: different seeds give different layers of the same shape")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genbenchzip: -o is required")
		os.Exit(2)
	}
	if err := write(*out, benchzip.Options{TotalSize: *size, Seed: *seed}); err != nil {
		fmt.Fprintln(os.Stderr, "genbenchzip:", err)
		os.Exit(1)
	}
}

func write(path string, opts benchzip.Options) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".genbenchzip-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	st, err := benchzip.Write(f, opts)
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genbenchzip: %s: %d files, %d bytes unzipped\n", path, st.Files, st.UncompressedSize)
	return os.Rename(f.Name(), path)
}
