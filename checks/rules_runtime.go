package checks

import (
	"archive/tar"
	"debug/elf"
	"fmt"
	"path"
	"sort"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// Family is the runtime family the handler is checked for: the configured
// one, else the one the image's LangBinDir tells.
func (c *check) family() (lambda.Family, string) {
	if c.cfg.Family != "" {
		return c.cfg.Family, c.cfg.Version
	}
	return lambda.FamilyFromLangBin(c.view.Children(lambda.LangBinDir))
}

// DetectFamily is the runtime family an image's own files tell.
func DetectFamily(v *View) (lambda.Family, string) {
	return lambda.FamilyFromLangBin(v.Children(lambda.LangBinDir))
}

// platform: the image is for the function's architecture.
func platform(c *check) []Finding {
	if c.img.Config == nil || c.cfg.Arch == "" {
		return nil
	}
	got := c.img.Config.Platform()
	if c.cfg.Arch.Runs(got) {
		return nil
	}
	want := c.cfg.Arch.Platform()
	return []Finding{{Rule: RulePlatform, Severity: Refuse, LambdaError: lambdaInvalidEntry,
		Message: fmt.Sprintf("image is %s, but the function's architecture %s needs %s", lambda.PlatformString(got), c.cfg.Arch, lambda.PlatformString(&want))}}
}

// ArchMismatchError lists native files built for another architecture.
type ArchMismatchError struct {
	Arch  lambda.Arch
	Files []string // "/path (machine)", sorted
	// Allowed: reported, but the build goes on.
	Allowed bool
}

func (e *ArchMismatchError) Error() string {
	tail := "rebuild them for " + string(e.Arch)
	if e.Allowed {
		tail = "allowed for this build"
	}
	return fmt.Sprintf("%d native file(s) are not built for %s; they fail at invoke with \"exec format error\" (%s):%s",
		len(e.Files), e.Arch, tail, listPaths(e.Files))
}

// architecture: native code (ELF files) the container sees is built for the
// function's architecture. A file a later layer replaced is never loaded,
// so only the merged view counts. Files this build added are refused (or
// reported, when allowed); files of the base are reported as warnings: the
// base is the platform's own, and a stray foreign binary in it rarely runs.
func architecture(c *check) []Finding {
	if c.cfg.Arch == "" {
		return nil
	}
	want := uint16(c.cfg.Arch.ELFMachine())
	bad := map[Origin][]string{}
	c.view.Walk(func(p string, n Node) {
		if !n.ELF || n.Machine == want {
			return
		}
		o := c.img.Layers[n.Layer].Origin
		bad[o] = append(bad[o], fmt.Sprintf("%s (%s)", p, lambda.MachineName(elf.Machine(n.Machine))))
	})
	var out []Finding
	for _, o := range []Origin{Added, Own, Base} {
		files := bad[o]
		if len(files) == 0 {
			continue
		}
		sort.Strings(files)
		sev := Refuse
		if o == Base || c.cfg.AllowArchMismatch {
			sev = Warn
		}
		err := &ArchMismatchError{Arch: c.cfg.Arch, Files: files, Allowed: sev == Warn && o != Base}
		msg := err.Error()
		if o == Base {
			msg = "in the base: " + msg
		}
		out = append(out, Finding{Rule: RuleArchitecture, Severity: sev, Origin: o, LambdaError: lambdaInvalidEntry, Path: firstPath(files), Err: err, Message: msg})
	}
	return out
}

// FunctionRoots are where Lambda's unprivileged user must read everything:
// the layers, the task root and the runtime.
func FunctionRoots(taskRoot string) []string {
	return []string{lambda.OptDir, taskRoot, path.Dir(lambda.RuntimeBootstrap)}
}

// Readable reports whether Lambda's non-root user can use an entry: files
// readable by others, directories readable and searchable. Other types
// (symlinks, devices) are not judged.
func Readable(e Entry) bool {
	switch e.Type {
	case tar.TypeDir:
		return e.Mode&0o005 == 0o005
	case tar.TypeReg, tar.TypeRegA:
		return e.Mode&0o004 != 0
	}
	return true
}

// Unreadable returns, per layer (0-based), the absolute paths of the merged
// view that Lambda's non-root user cannot read: under the function roots,
// and the entrypoint itself, which must also be executable by others.
func Unreadable(img *Image, taskRoot string) map[int][]string {
	roots := FunctionRoots(taskRoot)
	ep := ""
	if img.Config != nil && len(img.Config.Config.Entrypoint) > 0 {
		ep = path.Clean(img.Config.Config.Entrypoint[0])
	}
	bad := map[int][]string{}
	img.View().Walk(func(p string, n Node) {
		under := false
		for _, r := range roots {
			under = under || hasPrefixDir(p, r)
		}
		switch {
		case p == ep && (n.Type == tar.TypeReg || n.Type == tar.TypeRegA) && n.Mode&0o005 != 0o005:
			bad[n.Layer] = append(bad[n.Layer], p)
		case under && !Readable(n.Entry):
			bad[n.Layer] = append(bad[n.Layer], p)
		}
	})
	return bad
}

// permissions: Lambda runs the function as a non-root user, so every file it
// may load must be readable by others and every directory searchable.
func permissions(c *check) []Finding {
	bad := Unreadable(c.img, c.taskRoot)
	layers := make([]int, 0, len(bad))
	for l := range bad {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	view := c.view
	var out []Finding
	for _, l := range layers {
		var ps []string
		for _, p := range bad[l] {
			n, _ := view.Lookup(p)
			if n.IsDir() {
				ps = append(ps, fmt.Sprintf("%s/ (%04o)", p, n.Mode))
			} else {
				ps = append(ps, fmt.Sprintf("%s (%04o)", p, n.Mode))
			}
		}
		out = append(out, c.layerFinding(l, Finding{Rule: RulePermissions, Severity: Refuse, LambdaError: lambdaPermission, Path: firstPath(ps),
			Message: fmt.Sprintf("%d path(s) Lambda's non-root user cannot read:%s", len(ps), listPaths(ps)),
			Hint:    "make files 0644 (0755 if executable) and directories 0755"}))
	}
	return out
}

// entrypoint: the base starts the way Lambda starts images.
func entrypoint(c *check) []Finding {
	if c.img.Config == nil {
		return nil
	}
	ep := c.img.Config.Config.Entrypoint
	warn := func(msg string) []Finding {
		return []Finding{{Rule: RuleEntrypoint, Severity: Warn, Message: msg}}
	}
	switch {
	case len(ep) == 0 && len(c.img.Config.Config.Cmd) == 0:
		return []Finding{{Rule: RuleNoEntrypoint, Severity: Refuse, LambdaError: lambdaInvalidEntry,
			Message: "the image has neither ENTRYPOINT nor CMD: Lambda has nothing to run"}}
	case len(ep) == 0:
		return warn(fmt.Sprintf("the image has no ENTRYPOINT: Lambda would run CMD [%s] as a program; use a Lambda base image or one whose entrypoint takes the handler", c.cfg.Handler))
	case !path.IsAbs(ep[0]):
		return warn(fmt.Sprintf("the ENTRYPOINT %q is not an absolute path, which Lambda requires", ep[0]))
	}
	if n, ok := c.view.Lookup(ep[0]); ok && n.Type == '2' {
		return warn(fmt.Sprintf("the ENTRYPOINT %q is a symlink, which Lambda does not start", ep[0]))
	}
	return nil
}
