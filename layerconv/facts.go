package layerconv

import (
	"io"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// recordFacts returns the writer a regular file's content is copied
// through and a function giving the file's content facts afterwards. For
// a file lambda.WantsFacts (a package.json, a jar on the Java class path)
// the writer keeps a copy, up to lambda.FactsLimit, so the facts come from
// the same pass that writes the layer; for every other file it is w
// itself and nothing is kept.
func recordFacts(w io.Writer, name string, size int64) (io.Writer, func() *lambda.FileFacts) {
	if !lambda.WantsFacts(name) {
		return w, func() *lambda.FileFacts { return nil }
	}
	if size > lambda.FactsLimit(name) {
		return w, func() *lambda.FileFacts { return lambda.TooLargeFacts(name, size) }
	}
	fw := &factsWriter{w: w, buf: make([]byte, 0, size)}
	return fw, func() *lambda.FileFacts { return lambda.ReadFacts(name, fw.buf) }
}

type factsWriter struct {
	w   io.Writer
	buf []byte
}

func (f *factsWriter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	return f.w.Write(p)
}
