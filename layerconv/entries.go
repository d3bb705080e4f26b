package layerconv

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

type kind uint8

const (
	kindFile kind = iota
	kindDir
	kindSymlink
)

// entry is one path of the layer, relative to the prefix.
type entry struct {
	name   string // normalised, no leading or trailing slash, never empty
	raw    string // as the source spells it, for messages
	kind   kind
	mode   int64 // permission bits written to the tar header
	size   int64 // declared content size (files and symlinks)
	target string
	src    int // index into the source's own list; -1 for synthesised parents
	// via lists the paths a name walked through before a ".." took it back
	// out (a/l for a/l/../x), which buildTree checks are not symlinks.
	via []string
	// normalized: the name or the mode was rewritten.
	normalized bool
	// pyc is set on a .pyc whose source is in the input (see markPyc).
	pyc *pycSource
}

// Linux's limits on names (limits.h). An entry beyond them unpacks
// nowhere: GNU tar, podman load and Lambda's unpacker fail with "File name
// too long", so it is refused here, naming it, rather than shipped.
const (
	nameMax = 255  // NAME_MAX: bytes in one path component
	pathMax = 4095 // PATH_MAX less its NUL: bytes in a whole path
	// symlinkMax bounds a symlink target: symlink(2) refuses longer ones.
	symlinkMax = pathMax
)

// checkLength refuses a name (clean, relative to prefix) that Linux cannot
// create once extracted at prefix (clean, absolute).
func checkLength(prefix, name string) error {
	for c := range strings.SplitSeq(name, "/") {
		if len(c) > nameMax {
			return fmt.Errorf("%w: a component of %d bytes (Linux allows %d)", ErrNameTooLong, len(c), nameMax)
		}
	}
	full := len(prefix) + 1 + len(name)
	if prefix == "/" {
		full = 1 + len(name)
	}
	if full > pathMax {
		return fmt.Errorf("%w: %d bytes under %s (Linux allows %d for a whole path)", ErrNameTooLong, full, prefix, pathMax)
	}
	return nil
}

// normalizeName turns a source name into a clean relative path. changed
// reports a rewrite beyond dropping a directory's trailing slash. An empty
// result names the root itself. via lists the paths a ".." stepped back
// out of (see entry.via): ".." is resolved lexically here, which is only
// right when none of them is a symlink.
func normalizeName(raw string, backslashes bool) (name string, changed bool, via []string, err error) {
	if strings.IndexByte(raw, 0) >= 0 {
		return "", false, nil, fmt.Errorf("%w: contains NUL", ErrInvalidName)
	}
	if !utf8.ValidString(raw) {
		return "", false, nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	s := raw
	if backslashes && strings.ContainsRune(s, '\\') {
		s = strings.ReplaceAll(s, `\`, "/")
	}
	if strings.HasPrefix(s, "/") {
		return "", false, nil, ErrAbsolutePath
	}
	parts := make([]string, 0, strings.Count(s, "/")+1)
	for p := range strings.SplitSeq(s, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", false, nil, ErrPathEscapes
			}
			via = append(via, strings.Join(parts, "/"))
			parts = parts[:len(parts)-1]
		default:
			if isWhiteout(p) {
				return "", false, nil, fmt.Errorf("%w: %q", ErrWhiteout, p)
			}
			parts = append(parts, p)
		}
	}
	name = strings.Join(parts, "/")
	return name, name != strings.TrimSuffix(raw, "/"), via, nil
}

// isWhiteout reports a path component an OCI unpacker would treat as a
// whiteout (.wh.name deletes name below; .wh..wh..opq empties the directory).
func isWhiteout(component string) bool { return strings.HasPrefix(component, ".wh.") }

// dropped reports macOS litter: __MACOSX/ trees and AppleDouble ._* files.
func dropped(name string, k kind) bool {
	if name == "__MACOSX" || strings.HasPrefix(name, "__MACOSX/") {
		return true
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	return k != kindDir && strings.HasPrefix(base, "._")
}

// conventionalExec reports whether a file without Unix modes should be
// executable: Lambda runs bootstrap at the root and everything in bin/ and
// extensions/.
func conventionalExec(name string) bool {
	return name == "bootstrap" || strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "extensions/")
}

// cmpPath orders paths component by component ('/' sorts before every other
// byte), so a directory's contents follow it contiguously and every parent
// precedes its children.
func cmpPath(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// buildTree sorts the entries, refuses duplicates, file/directory clashes
// and entries below symlinks, and adds the parent directories no entry
// named. The result is in write order.
func buildTree(src string, es []entry) ([]entry, error) {
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmpPath(a.name, b.name); c != 0 {
			return c
		}
		return a.src - b.src // keep the error deterministic for duplicates
	})
	byName := make(map[string]kind, len(es))
	for i := range es {
		if i > 0 && es[i].name == es[i-1].name {
			if (es[i].kind == kindDir) == (es[i-1].kind == kindDir) {
				return nil, entryErr(src, es[i].raw, fmt.Errorf("%w: same path as %q", ErrDuplicate, es[i-1].raw))
			}
			return nil, entryErr(src, es[i].raw, fmt.Errorf("%w: clashes with %q", ErrFileDirConflict, es[i-1].raw))
		}
		byName[es[i].name] = es[i].kind
	}
	for i := range es {
		for _, v := range es[i].via {
			for p := v; p != ""; p = p[:max(strings.LastIndexByte(p, '/'), 0)] {
				if k, ok := byName[p]; ok && k == kindSymlink {
					return nil, entryErr(src, es[i].raw, fmt.Errorf("%w %q: the name steps back out of it with ..", ErrBelowSymlink, p))
				}
			}
		}
	}
	var synth []entry
	for i := range es {
		name := es[i].name
	ancestors:
		for j := strings.LastIndexByte(name, '/'); j > 0; j = strings.LastIndexByte(name[:j], '/') {
			parent := name[:j]
			k, ok := byName[parent]
			switch {
			case !ok:
				byName[parent] = kindDir
				synth = append(synth, entry{name: parent, raw: parent + "/", kind: kindDir, mode: 0o755, src: -1})
			case k == kindDir:
				// Its own ancestors were or will be checked with its entry.
				break ancestors
			case k == kindSymlink:
				return nil, entryErr(src, es[i].raw, fmt.Errorf("%w %q", ErrBelowSymlink, parent))
			default:
				return nil, entryErr(src, es[i].raw, fmt.Errorf("%w: %q is a file", ErrFileDirConflict, parent))
			}
		}
	}
	if len(synth) == 0 {
		return es, nil
	}
	all := append(es, synth...)
	slices.SortFunc(all, func(a, b entry) int { return cmpPath(a.name, b.name) })
	return all, nil
}
