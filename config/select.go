package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lambda-oci/lambda-oci/build"
)

// Select returns the named functions in file order (all of them when
// names is empty); a name the file does not have is an error that lists
// the ones it does.
func (f *File) Select(names []string) ([]Function, error) {
	if len(names) == 0 {
		return f.Functions, nil
	}
	var all []string
	for _, fn := range f.Functions {
		all = append(all, fn.Name)
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("%s: %s has no such function (functions: %s)", n, f.Path, strings.Join(all, ", "))
		}
	}
	var out []Function
	for _, fn := range f.Functions {
		if slices.Contains(names, fn.Name) {
			out = append(out, fn)
		}
	}
	return out, nil
}

// Record writes to path what the functions that built successfully were
// built from (fns by name, as built); the others keep their entries, and
// functions gone from the file lose theirs.
func (l *Lock) Record(f *File, fns map[string]Function, results []build.TargetResult, path string) error {
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		lf, err := f.LockFunction(fns[r.Name], r.Result)
		if err != nil {
			return err
		}
		l.Functions[r.Name] = lf
	}
	l.Prune(f)
	return l.Write(path)
}
