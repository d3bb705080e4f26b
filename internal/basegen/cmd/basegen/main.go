// Command basegen regenerates the offline fixtures: testdata/base (a tiny
// Lambda-like base image as an OCI layout) and testdata/demo/layer.zip.
//
//	go run ./internal/basegen/cmd/basegen            # from the repository root
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

func main() {
	testdata := flag.String("testdata", "testdata", "the testdata directory to write into")
	patched := flag.String("patched", "", "write only the base's next release (basegen.PatchedIndex) as an OCI layout at this new `DIR` (benchmarks rebase onto it)")
	flag.Parse()
	if *patched != "" {
		idx, err := basegen.PatchedIndex()
		if err == nil {
			err = basegen.WriteLayout(*patched, idx, basegen.RefName)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := basegen.Generate(*testdata); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
