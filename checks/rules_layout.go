package checks

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// foreignLayers: a foreign (non-distributable) layer is not in the
// registry; Lambda copies the image from ECR and has nowhere to fetch it.
func foreignLayers(c *check) []Finding {
	var out []Finding
	for i, l := range c.img.Layers {
		if !l.MediaType.IsDistributable() {
			out = append(out, c.layerFinding(i, Finding{Rule: RuleForeignLayer, Severity: Refuse, LambdaError: lambdaUnsupportedMedia,
				Message: fmt.Sprintf("layer media type %q is foreign (non-distributable): registries need not hold its blob, and Lambda pulls every layer from ECR", l.MediaType),
				Hint:    "store the layer as a regular layer (same blob, distributable media type)"}))
		}
	}
	return out
}

// layerLayout: content the runtime never looks at. Layer zips unpack at
// /opt, so a zip made without its runtime folder (python/, nodejs/) puts
// modules where no search path reaches; code zipped with its folder ends
// up one level below the task root.
func layerLayout(c *check) []Finding {
	found := map[int][]string{}
	add := func(layer int, s string) { found[layer] = append(found[layer], s) }
	opt := lambda.Rel(lambda.OptDir)
	nodeDirs := lambda.LayerSearchPaths(lambda.NodeJS, "")
	seenNM := map[string]bool{}
	c.view.Walk(func(p string, n Node) {
		rel, ok := strings.CutPrefix(lambda.Rel(p), opt+"/")
		if !ok || n.IsDir() {
			return
		}
		parts := strings.Split(rel, "/")
		switch {
		case len(parts) == 1 && isPythonModule(rel):
			add(n.Layer, fmt.Sprintf("%s (Python looks in %s)", p, strings.Join(lambda.LayerSearchPaths(lambda.Python, ""), " and ")))
		case len(parts) == 2 && parts[1] == "__init__.py" && parts[0] != "python":
			add(n.Layer, fmt.Sprintf("%s (a Python package outside %s, where Python does not look)", path.Dir(p), path.Join(lambda.OptDir, "python")))
		}
		for i, part := range parts {
			if part != "node_modules" {
				continue
			}
			nm := path.Join(lambda.OptDir, strings.Join(parts[:i+1], "/"))
			ok := false
			for _, d := range nodeDirs {
				m, _ := path.Match(d, nm)
				ok = ok || m
			}
			if !ok && !seenNM[nm] {
				seenNM[nm] = true
				add(n.Layer, fmt.Sprintf("%s (Node.js looks in %s)", nm, strings.Join(nodeDirs, " and ")))
			}
			break
		}
	})
	var out []Finding
	if f, ok := c.wrappedCode(); ok {
		out = append(out, f)
	}
	layers := make([]int, 0, len(found))
	for l := range found {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	for _, l := range layers {
		ps := found[l]
		out = append(out, c.layerFinding(l, Finding{Rule: RuleLayerLayout, Severity: Warn, Path: firstPath(ps),
			Message: fmt.Sprintf("%d path(s) where the runtime does not look:%s", len(ps), listPaths(ps)),
			Hint:    "zip a layer with its runtime folder at the top: python/..., nodejs/node_modules/..."}))
	}
	return out
}

func isPythonModule(name string) bool {
	return strings.HasSuffix(name, ".py") || strings.HasSuffix(name, ".pyc") || (strings.HasSuffix(name, ".so") && strings.Contains(name, ".cpython-"))
}

// wrappedCode finds the handler's module one or two folders below the task
// root when it is not at the task root itself: code zipped with its folder.
func (c *check) wrappedCode() (Finding, bool) {
	fam, ver := c.family()
	if c.cfg.Handler == "" || (fam != lambda.Python && fam != lambda.NodeJS && fam != lambda.Ruby) {
		return Finding{}, false
	}
	// Only when the runtime would not find the handler: where it looked in
	// the task root tells what to look for one or two folders down.
	_, err := lambda.ResolveHandler(c.view, c.handlerInput(fam, ver))
	var herr *lambda.HandlerError
	if !errors.As(err, &herr) {
		return Finding{}, false
	}
	for _, cand := range herr.Searched {
		rel, ok := strings.CutPrefix(cand, c.taskRoot+"/")
		if !ok || strings.ContainsAny(rel, "*?[") {
			continue
		}
		for _, depth := range []string{"*/", "*/*/"} {
			ms := c.view.Glob(path.Join(c.taskRoot, depth+rel))
			if len(ms) == 0 {
				continue
			}
			n, _ := c.view.Lookup(ms[0])
			folder := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(ms[0], rel), c.taskRoot+"/"), "/")
			f := c.layerFinding(n.Layer, Finding{Rule: RuleLayerLayout, Severity: Warn, Path: ms[0],
				Message: fmt.Sprintf("the handler %q is not at the task root %s, but found %s: the code is wrapped in the folder %s/", c.cfg.Handler, c.taskRoot, ms[0], folder),
				Hint:    fmt.Sprintf("package the folder's contents, not the folder, or name the handler %q", folder+"/"+c.cfg.Handler)})
			return f, true
		}
	}
	return Finding{}, false
}
