package layerconv

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// Only wanted files are copied aside, and never above the bound: a larger
// jar streams through untouched and is recorded as not read.
func TestRecordFacts(t *testing.T) {
	var out bytes.Buffer
	w, facts := recordFacts(&out, "opt/python/app.py", 10)
	assert.Same(t, &out, w, "an unwanted file streams straight through")
	assert.Nil(t, facts())

	w, facts = recordFacts(&out, "opt/java/lib/big.jar", lambda.MaxJarFacts+1)
	assert.Same(t, &out, w, "a jar above the bound is not buffered")
	assert.Contains(t, facts().Unread, "above")

	out.Reset()
	w, facts = recordFacts(&out, "opt/nodejs/package.json", 17)
	_, _ = w.Write([]byte(`{"type":`))
	_, _ = w.Write([]byte(`"module"}`))
	assert.Equal(t, `{"type":"module"}`, out.String(), "the layer gets every byte")
	assert.Equal(t, &lambda.PackageJSON{Type: "module"}, facts().Package)
}
