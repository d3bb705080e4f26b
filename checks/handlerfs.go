package checks

import (
	"archive/tar"
	"sort"
	"strings"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// View is the file tree handler lookups run over (lambda.ResolveHandler).
var _ lambda.FS = (*View)(nil)

// Lstat describes the entry at p, a final symlink not followed. A
// directory that only exists as the parent of other entries (a layer
// without its parents' entries, which another rule refuses) still counts:
// the container runtime creates it.
func (v *View) Lstat(p string) (lambda.File, bool) {
	k := cleanName(p)
	if k == "" {
		return lambda.File{Type: lambda.Dir, Mode: 0o755}, true
	}
	if n, ok := v.nodes[k]; ok {
		return fileOf(n), true
	}
	pre := k + "/"
	for q := range v.nodes {
		if strings.HasPrefix(q, pre) {
			return lambda.File{Type: lambda.Dir, Mode: 0o755}, true
		}
	}
	return lambda.File{}, false
}

// ReadDir returns the names directly under p, including directories only
// implied by deeper entries, sorted.
func (v *View) ReadDir(p string) []string {
	pre := cleanName(p) + "/"
	if pre == "/" {
		pre = ""
	}
	seen := map[string]bool{}
	for k := range v.nodes {
		if rest, ok := strings.CutPrefix(k, pre); ok && rest != "" {
			name, _, _ := strings.Cut(rest, "/")
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// WalkUnder calls fn for every entry under root, in path order.
func (v *View) WalkUnder(root string, fn func(p string, f lambda.File)) {
	pre := cleanName(root) + "/"
	var keys []string
	for k := range v.nodes {
		if strings.HasPrefix(k, pre) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fn("/"+k, fileOf(v.nodes[k]))
	}
}

func fileOf(n Node) lambda.File {
	f := lambda.File{Mode: n.Mode, Link: n.Link, Facts: n.Facts}
	switch n.Type {
	case tar.TypeDir:
		f.Type = lambda.Dir
	case tar.TypeSymlink:
		f.Type = lambda.Symlink
	case tar.TypeReg, tar.TypeRegA, tar.TypeLink:
		// A hard link's content is its target's; the hardlink rule refuses
		// it anyway.
		f.Type = lambda.Regular
	default:
		f.Type = lambda.OtherFile
	}
	return f
}
