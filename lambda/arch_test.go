package lambda

import (
	"debug/elf"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArch(t *testing.T) {
	for in, want := range map[string]Arch{
		"x86_64": X8664, "amd64": X8664, "X86_64": X8664, "x86-64": X8664, "": X8664,
		"arm64": ARM64, "aarch64": ARM64, "AARCH64": ARM64,
	} {
		got, err := ParseArch(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"i386", "arm", "riscv64", "x86"} {
		_, err := ParseArch(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "x86_64, arm64")
	}
}

func TestArchPlatform(t *testing.T) {
	assert.Equal(t, v1.Platform{OS: "linux", Architecture: "amd64"}, X8664.Platform())
	assert.Equal(t, v1.Platform{OS: "linux", Architecture: "arm64"}, ARM64.Platform())
	assert.Equal(t, elf.EM_X86_64, X8664.ELFMachine())
	assert.Equal(t, elf.EM_AARCH64, ARM64.ELFMachine())
	for _, tc := range []struct {
		p    *v1.Platform
		want Arch
		ok   bool
	}{
		{&v1.Platform{OS: "linux", Architecture: "amd64"}, X8664, true},
		{&v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, ARM64, true},
		{&v1.Platform{OS: "linux", Architecture: "arm64"}, ARM64, true},
		{&v1.Platform{OS: "windows", Architecture: "amd64"}, "", false},
		{&v1.Platform{OS: "linux", Architecture: "s390x"}, "", false},
		{nil, "", false},
	} {
		got, ok := ArchOf(tc.p)
		assert.Equal(t, tc.want, got, PlatformString(tc.p))
		assert.Equal(t, tc.ok, ok)
		assert.Equal(t, tc.ok, tc.want.Runs(tc.p))
	}
	assert.Equal(t, "linux/arm64/v8", PlatformString(&v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))
}

func TestMachineName(t *testing.T) {
	for m, want := range map[elf.Machine]string{elf.EM_X86_64: "x86-64", elf.EM_AARCH64: "AArch64", elf.EM_386: "i386", elf.EM_ARM: "ARM (32-bit)", elf.EM_PPC64: "e_machine 21"} {
		assert.Equal(t, want, MachineName(m))
	}
}
