package checks

import (
	"archive/tar"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// staleBytecode: a timestamp-based .pyc (PEP 552, flags 0) records its
// source's mtime and size, and Python uses it only while both match the
// source's stat; otherwise it compiles the module from source. In Lambda
// that happens at every cold start, and the result cannot be cached
// because the task root and /opt are read-only. Images whose files were
// all given one mtime (by a tool that does not rewrite the .pyc headers to
// match) pay this for every module they ship bytecode for.
//
// The comparison is the one importlib makes (_validate_timestamp_pyc):
// the recorded mtime with int(st_mtime) and the recorded size with
// st_size, both modulo 2^32, st_mtime and st_size being what the merged
// image's tar header says of the source. Hash-based .pyc files, .pyc files
// without a source, and sources that are not regular files (a symlink is
// stat'ed through to a file whose times are another entry's) are not
// judged.
func staleBytecode(c *check) []Finding {
	type tally struct {
		total int
		pkgs  map[string]int // package path -> stale .pyc files
	}
	byLayer := map[int]*tally{}
	c.view.Walk(func(p string, n Node) {
		if n.Type != tar.TypeReg || n.Facts == nil || n.Facts.Pyc == nil {
			return
		}
		mtime, size, ok := layerconv.PycStamp(n.Facts.Pyc)
		if !ok {
			return
		}
		srcRel, ok := layerconv.PycSource(lambda.Rel(p))
		if !ok {
			return
		}
		src, ok := c.view.Lookup(srcRel)
		if !ok || src.Type != tar.TypeReg || !c.img.Layers[src.Layer].Listed() {
			return
		}
		t := byLayer[n.Layer]
		if t == nil {
			t = &tally{pkgs: map[string]int{}}
			byLayer[n.Layer] = t
		}
		t.total++
		if uint32(src.Mtime) != mtime || uint32(src.Size) != size {
			t.pkgs[pycPackage("/"+srcRel, c.taskRoot)]++
		}
	})
	layers := make([]int, 0, len(byLayer))
	for l, t := range byLayer {
		if len(t.pkgs) > 0 {
			layers = append(layers, l)
		}
	}
	sort.Ints(layers)
	var out []Finding
	for _, l := range layers {
		t := byLayer[l]
		pkgs := make([]string, 0, len(t.pkgs))
		stale := 0
		for p, n := range t.pkgs {
			pkgs = append(pkgs, p)
			stale += n
		}
		sort.Strings(pkgs)
		names := make([]string, len(pkgs))
		lines := make([]string, len(pkgs))
		for i, p := range pkgs {
			names[i] = path.Base(p)
			lines[i] = fmt.Sprintf("%s (%d)", p, t.pkgs[p])
		}
		out = append(out, c.layerFinding(l, Finding{Rule: RuleStaleBytecode, Severity: Warn, Path: pkgs[0],
			Message: fmt.Sprintf("%d of %d timestamp-based .pyc files do not match their source's mtime and size, so Python compiles those modules again at every cold start and cannot cache the result (the function's files are read-only); stale bytecode of %s:%s",
				stale, t.total, joinAnd(compactNames(names)), listPaths(lines)),
			Hint: "convert the zips with lambda-oci (valid .pyc files stay valid), compile where the files keep their times, or compile with python -m compileall --invalidation-mode unchecked-hash"}))
	}
	return out
}

// libPython matches a runtime's standard library directory.
var libPython = regexp.MustCompile(`/lib/python[0-9]+\.[0-9]+$`)

// pycPackage names the package a source belongs to, as a path: the
// top-level directory (or module) under the nearest site-packages or
// dist-packages directory, /opt/python, a lib/pythonX.Y standard library
// or the task root; anything else by its directory.
func pycPackage(src, taskRoot string) string {
	root := ""
	for d := path.Dir(src); d != "/" && d != "."; d = path.Dir(d) {
		b := path.Base(d)
		if b == "site-packages" || b == "dist-packages" || libPython.MatchString(d) {
			root = d
			break
		}
	}
	if root == "" {
		for _, r := range []string{path.Join(lambda.OptDir, "python"), taskRoot} {
			if hasPrefixDir(src, r) {
				root = r
				break
			}
		}
	}
	if root == "" {
		return path.Dir(src)
	}
	top, _, nested := strings.Cut(strings.TrimPrefix(src, root+"/"), "/")
	if !nested {
		top = strings.TrimSuffix(top, ".py")
	}
	return path.Join(root, top)
}

// compactNames drops repeated names (numpy in two site-packages).
func compactNames(ns []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
