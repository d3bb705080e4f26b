package lambda

import (
	"debug/elf"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Arch is one of Lambda's architecture names, as a function's
// Architectures setting spells it.
type Arch string

// Lambda's architectures.
const (
	X8664 Arch = "x86_64"
	ARM64 Arch = "arm64"
)

// archs are Lambda's architectures, in the order they are listed.
var archs = []Arch{X8664, ARM64}

// Archs returns Lambda's architectures (a copy).
func Archs() []Arch { return append([]Arch{}, archs...) }

// archAliases are the other spellings users type: Go's and Debian's
// (amd64), the kernel's (aarch64), and the hyphenated x86-64.
var archAliases = map[string]Arch{
	"x86_64": X8664, "amd64": X8664, "x86-64": X8664, "x64": X8664,
	"arm64": ARM64, "aarch64": ARM64,
}

// ParseArch reads an architecture name; "" is Lambda's default, x86_64.
func ParseArch(s string) (Arch, error) {
	if s == "" {
		return X8664, nil
	}
	if a, ok := archAliases[strings.ToLower(s)]; ok {
		return a, nil
	}
	names := make([]string, len(archs))
	for i, a := range archs {
		names[i] = string(a)
	}
	return "", fmt.Errorf("architecture %q: Lambda supports %s (amd64 and aarch64 are accepted as aliases)", s, strings.Join(names, ", "))
}

// Platform is the OCI platform Lambda runs the architecture on.
func (a Arch) Platform() v1.Platform {
	if a == ARM64 {
		return v1.Platform{OS: "linux", Architecture: "arm64"}
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

// ELFMachine is the e_machine of native code the architecture runs.
func (a Arch) ELFMachine() elf.Machine {
	if a == ARM64 {
		return elf.EM_AARCH64
	}
	return elf.EM_X86_64
}

// ArchOf is the Lambda architecture of an OCI platform, if Lambda runs it.
// The arm64 variant is ignored: Lambda's Graviton hosts run any linux/arm64
// image, and AWS's indexes label them "v8" or not at all.
func ArchOf(p *v1.Platform) (Arch, bool) {
	if p == nil || p.OS != "linux" {
		return "", false
	}
	for _, a := range archs {
		if a.Platform().Architecture == p.Architecture {
			return a, true
		}
	}
	return "", false
}

// Runs reports whether Lambda runs an image of platform p for arch a.
func (a Arch) Runs(p *v1.Platform) bool {
	got, ok := ArchOf(p)
	return ok && got == a
}

// PlatformString renders a platform as os/arch[/variant].
func PlatformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// MachineName names an e_machine value the way users meet it.
func MachineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_AARCH64:
		return "AArch64"
	case elf.EM_386:
		return "i386"
	case elf.EM_ARM:
		return "ARM (32-bit)"
	}
	return fmt.Sprintf("e_machine %d", uint16(m))
}
