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
	flag.Parse()
	if err := basegen.Generate(*testdata); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
