package e2e

import (
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// nodeBase is the Lambda-like Node.js base (the host's node and the
// runtime loop of langruntimes.go), pushed once per suite.
type nodeBase struct {
	node HostNode
	ref  string
	// runtime is --runtime nodejsNN.x when lambda-oci knows the version
	// (without it the family is told by the base's /var/lang/bin/node).
	runtime []string
	// layers is how many layers the base has.
	layers int
}

// nodeBase builds and pushes the Node.js base the first time a scenario
// needs it; it is ~100 MB, so the scenarios share one.
func (w *world) nodeBase(t *testing.T) *nodeBase {
	t.Helper()
	testRequireTool(t, "node", "ldd")
	if w.node != nil {
		return w.node
	}
	node, err := FindHostNode()
	require.NoError(t, err)
	files, err := NodeBaseFiles(node)
	require.NoError(t, err)
	nb := &nodeBase{node: node}
	nb.ref = w.pushBase(t, "lambda/nodejs:"+node.Major, LanguageBaseOptions{
		Files: files, Bootstrap: nodeBootstrap(node.Major), What: "Node.js " + node.Major + " and the Node.js runtime loop"})
	switch node.Major {
	case "20", "22", "24":
		nb.runtime = []string{"--runtime", "nodejs" + node.Major + ".x"}
	}
	ref, err := name.ParseReference(nb.ref)
	require.NoError(t, err)
	img, err := remote.Image(ref, append(w.remoteOpts, remote.WithContext(t.Context()),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))...)
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	nb.layers = len(ls)
	w.node = nb
	return nb
}
