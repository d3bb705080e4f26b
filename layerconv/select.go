package layerconv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Selection makes a layer of part of an input, so that one input can
// become several layers whose union is the one-layer conversion: the same
// files, modes, links and directories (directories are always 0755 with
// the layer's mtime, whether the input names them or not, so a directory
// written in two layers is the same entry twice). Function code that
// vendors its dependencies is split this way, the dependencies in one
// layer and the application files in the next, so an edit to the
// application leaves the dependency layer's digest as it was.
//
// A path of Paths selects the entry of that name and everything below it.
// Files, symlinks and empty directories are kept when selected (Exclude:
// when not selected). A directory with entries below it is written exactly
// when something below it is kept: a layer gets the parent directory
// entries its files need (Lambda refuses layers without them) and no
// directory whose contents all went to the other layer.
//
// The whole input is still read and validated as for the one-layer
// conversion (names, duplicates, symlinks, the size limit over every
// entry), so a selection never accepts what the whole input would refuse,
// and .pyc files are matched with their sources over the whole input.
type Selection struct {
	// Paths are clean, relative input paths ("node_modules",
	// "numpy/__init__.py"), as the layer names them below its prefix.
	Paths []string
	// Exclude keeps what Paths do not select.
	Exclude bool
}

// validate refuses paths that could never name an entry.
func (s *Selection) validate() error {
	for _, p := range s.Paths {
		if p == "" || p == "." || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("layerconv: selection path %q: want a clean relative path inside the input", p)
		}
	}
	return nil
}

// Selects reports whether name (clean, relative) is selected by Paths:
// name itself or one of its ancestors is listed. Exclude is not applied.
func (s *Selection) Selects(name string) bool {
	return s.set().has(name)
}

// Key identifies the selection (for a cache key): the mode and the sorted,
// deduplicated paths, hashed (a dist-info RECORD can list thousands).
func (s *Selection) Key() string {
	ps := slices.Clone(s.Paths)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	h := sha256.New()
	fmt.Fprintf(h, "exclude=%t\x00", s.Exclude)
	for _, p := range ps {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

type pathSet map[string]struct{}

func (s *Selection) set() pathSet {
	m := make(pathSet, len(s.Paths))
	for _, p := range s.Paths {
		m[p] = struct{}{}
	}
	return m
}

// has reports name or one of its ancestors in the set.
func (m pathSet) has(name string) bool {
	for p := name; ; {
		if _, ok := m[p]; ok {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// apply filters a tree as buildTree returns it (sorted, every ancestor
// present) down to the selected entries and the directories they need,
// keeping the order; st.normalized is recounted over what is kept.
func (s *Selection) apply(es []entry, st *stats) []entry {
	set := s.set()
	keep := make([]bool, len(es))
	byName := make(map[string]int, len(es))
	for i := range es {
		byName[es[i].name] = i
	}
	for i := range es {
		e := &es[i]
		// In path order a directory's contents follow it contiguously: it
		// has entries below it when the next entry is one of them.
		nonEmpty := e.kind == kindDir && i+1 < len(es) && strings.HasPrefix(es[i+1].name, e.name+"/")
		if nonEmpty || set.has(e.name) == s.Exclude {
			continue
		}
		keep[i] = true
		for p := e.name; ; {
			j := strings.LastIndexByte(p, '/')
			if j < 0 {
				break
			}
			p = p[:j]
			k := byName[p]
			if keep[k] {
				break // its own ancestors were marked with it
			}
			keep[k] = true
		}
	}
	out := make([]entry, 0, len(es))
	st.normalized = 0
	for i := range es {
		if keep[i] {
			out = append(out, es[i])
			if es[i].normalized {
				st.normalized++
			}
		}
	}
	return out
}
