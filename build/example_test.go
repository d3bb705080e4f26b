package build_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/publish"
)

// A Lambda layer zip and a code directory on the bundled base, written as
// an OCI layout: the same image as `make demo`, digest for digest.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	spec := build.Spec{
		Base:    "oci:../testdata/base:latest",
		Arch:    "x86_64",
		Layers:  []build.Source{{Path: "../testdata/demo/layer.zip"}},
		Code:    build.Source{Path: "../testdata/demo/code"},
		Handler: "app.handler",
		Created: time.Unix(0, 0),
	}
	layout := publish.Layout(filepath.Join(dir, "layout"), "localhost/lambda-function:latest")
	res, _, err := build.Publish(context.Background(), spec, layout, build.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Digest)
	// Output: sha256:b4b9d56cba43fab7a1be53df3e496941077777817835cade8ab291c1d60d5a2a
}
