package checks

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Severity says whether a finding stops a build.
type Severity int

const (
	// Refuse: Lambda refuses the image, or the function fails at invoke.
	Refuse Severity = iota
	// Warn: the image works, but not as well as it could, or maybe not as
	// the user expects.
	Warn
)

func (s Severity) String() string {
	if s == Warn {
		return "warning"
	}
	return "error"
}

// MarshalText renders the severity in JSON as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning" back.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Refuse
	case "warning":
		*s = Warn
	default:
		return fmt.Errorf("severity %q: want error or warning", b)
	}
	return nil
}

// Rule ids: stable, for JSON consumers and for turning rules off.
const (
	RuleIndex             = "index"
	RuleMediaType         = "media-type"
	RuleForeignLayer      = "foreign-layer"
	RuleUncompressedLayer = "uncompressed-layer"
	RuleZstdLayer         = "zstd-layer"
	RuleDiffIDs           = "diff-ids"
	RuleParentDirs        = "missing-parent-directory"
	RuleHardLinks         = "hardlink"
	RulePermissions       = "unreadable"
	RuleSize              = "too-large"
	RuleManifestSize      = "manifest-size"
	RuleHandler           = "handler-missing"
	RuleArchitecture      = "arch-mismatch"
	RuleNoEntrypoint      = "no-entrypoint"
	RuleEntrypoint        = "entrypoint"
	RulePlatform          = "platform"
	RuleLayerLayout       = "layer-layout"
	RuleStaleBytecode     = "stale-bytecode"
)

// Finding is one rule's verdict on one subject of an image.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Layer is the 1-based index of the layer concerned (0: the image as a
	// whole), LayerDigest its digest, Origin whether it is a base layer.
	Layer       int     `json:"layer,omitempty"`
	LayerDigest v1.Hash `json:"layerDigest,omitzero"`
	Origin      Origin  `json:"origin,omitempty"`
	// Path is the absolute path in the image concerned, if any.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// LambdaError is the name Lambda gives this failure, where it has one
	// (MissingParentDirectory, UnsupportedImageLayerDetected, ...).
	LambdaError string `json:"lambdaError,omitempty"`
	// Hint says how to repair it.
	Hint string `json:"hint,omitempty"`
	// Err is a typed detail for programs (*SizeError, *ArchMismatchError,
	// *lambda.HandlerError), reachable through errors.As on *Error.
	Err error `json:"-"`
}

func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] ", f.Rule)
	if f.Layer > 0 {
		fmt.Fprintf(&b, "layer %d (%s %s): ", f.Layer, f.Origin, shortDigest(f.LayerDigest))
	}
	b.WriteString(f.Message)
	if f.LambdaError != "" {
		fmt.Fprintf(&b, " (Lambda: %s)", f.LambdaError)
	}
	if f.Hint != "" {
		b.WriteString("\n  hint: " + f.Hint)
	}
	return b.String()
}

// Error is an image Lambda would refuse: the error-severity findings.
type Error struct {
	Findings []Finding
}

func (e *Error) Error() string {
	if len(e.Findings) == 1 {
		return e.Findings[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems Lambda would refuse:", len(e.Findings))
	for _, f := range e.Findings {
		b.WriteString("\n  " + strings.ReplaceAll(f.String(), "\n", "\n  "))
	}
	return b.String()
}

// Unwrap exposes each finding's typed detail to errors.As and errors.Is.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, f := range e.Findings {
		if f.Err != nil {
			errs = append(errs, f.Err)
		}
	}
	return errs
}

// Errors returns the error-severity findings as an *Error, or nil.
func Errors(fs []Finding) error {
	var errs []Finding
	for _, f := range fs {
		if f.Severity == Refuse {
			errs = append(errs, f)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Findings: errs}
}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}

// maxListed bounds how many paths one finding's message lists.
const maxListed = 20
