package checks

import (
	"archive/tar"
	"path"
	"sort"
	"strings"
)

// Whiteout markers (OCI image spec, "Whiteouts"): .wh.NAME deletes NAME from
// the layers below; .wh..wh..opq hides the directory's lower contents.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Node is one path of the merged view: the entry the container sees there
// and the layer (0-based) that put it there.
type Node struct {
	Entry
	Layer int
}

// IsDir reports a directory.
func (n Node) IsDir() bool { return n.Type == tar.TypeDir }

// View is the merged file tree of a stack of layers, as the container sees
// it: a later layer's entry replaces an earlier one's at the same path, a
// whiteout deletes a path and everything under it, an opaque marker hides a
// directory's lower contents, and a non-directory put where a directory
// was removes what was under it. This is the one implementation of those
// rules; every check that looks at files goes through it.
type View struct {
	nodes map[string]Node
}

// Merge stacks the listings in order (lowest first).
func Merge(listings []*Listing) *View {
	v := &View{nodes: map[string]Node{}}
	for i, l := range listings {
		v.apply(i, l)
	}
	return v
}

func (v *View) apply(layer int, l *Listing) {
	// A layer's deletions apply to the layers below before its own entries
	// are added, so a whiteout never hides its own layer's files.
	for _, e := range l.Entries {
		dir, base := path.Split(e.Path)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == opaqueMarker:
			v.removeTree(dir, false)
		case strings.HasPrefix(base, whiteoutPrefix):
			v.removeTree(path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), true)
		}
	}
	for _, e := range l.Entries {
		base := path.Base(e.Path)
		if strings.HasPrefix(base, whiteoutPrefix) {
			continue
		}
		if old, ok := v.nodes[e.Path]; ok && old.IsDir() && e.Type != tar.TypeDir {
			v.removeTree(e.Path, true)
		}
		v.nodes[e.Path] = Node{Entry: e, Layer: layer}
	}
}

func (v *View) removeTree(p string, self bool) {
	if self {
		delete(v.nodes, p)
	}
	pre := p + "/"
	if p == "" {
		pre = ""
	}
	for k := range v.nodes {
		if strings.HasPrefix(k, pre) {
			delete(v.nodes, k)
		}
	}
}

// Lookup returns the node at an absolute or relative path.
func (v *View) Lookup(p string) (Node, bool) {
	n, ok := v.nodes[cleanName(p)]
	return n, ok
}

// Exists reports whether p is a file, symlink or other non-directory.
func (v *View) Exists(p string) bool {
	n, ok := v.Lookup(p)
	return ok && !n.IsDir()
}

// Glob returns the absolute non-directory paths matching an absolute
// path.Match pattern, sorted.
func (v *View) Glob(pattern string) []string {
	pat := cleanName(pattern)
	var out []string
	for k, n := range v.nodes {
		if n.IsDir() {
			continue
		}
		if ok, _ := path.Match(pat, k); ok {
			out = append(out, "/"+k)
		}
	}
	sort.Strings(out)
	return out
}

// Walk calls fn for every node, in path order.
func (v *View) Walk(fn func(p string, n Node)) {
	keys := make([]string, 0, len(v.nodes))
	for k := range v.nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fn("/"+k, v.nodes[k])
	}
}

// Children returns the names directly under directory p, sorted.
func (v *View) Children(p string) []string {
	pre := cleanName(p) + "/"
	var out []string
	for k := range v.nodes {
		if rest, ok := strings.CutPrefix(k, pre); ok && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}
