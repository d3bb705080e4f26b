package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// goreleaserConfig holds every key .goreleaser.yaml uses; decoding with
// KnownFields refuses any other, so a misspelt key fails here.
type goreleaserConfig struct {
	Version     int    `yaml:"version"`
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID           string   `yaml:"id"`
		Main         string   `yaml:"main"`
		Binary       string   `yaml:"binary"`
		Env          []string `yaml:"env"`
		Goos         []string `yaml:"goos"`
		Goarch       []string `yaml:"goarch"`
		Flags        []string `yaml:"flags"`
		Ldflags      []string `yaml:"ldflags"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		ID           string   `yaml:"id"`
		IDs          []string `yaml:"ids"`
		Formats      []string `yaml:"formats"`
		NameTemplate string   `yaml:"name_template"`
		Files        []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
	Snapshot struct {
		VersionTemplate string `yaml:"version_template"`
	} `yaml:"snapshot"`
	Changelog struct {
		Use  string `yaml:"use"`
		Sort string `yaml:"sort"`
	} `yaml:"changelog"`
}

// The release configuration builds what the README promises (linux and
// darwin, amd64 and arm64, tar.gz archives with the licence, a checksum
// file) from this command, stamping the variable `version` prints. It is
// decoded strictly, so a misspelt key fails here rather than in a release.
// goreleaser itself is not run: it is a large program to build in CI
// (see the Makefile's release-check), so this test stands in for
// `goreleaser check`.
func TestReleaseConfig(t *testing.T) {
	f, err := os.Open("../../.goreleaser.yaml")
	require.NoError(t, err)
	defer f.Close()
	var cfg goreleaserConfig
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))

	assert.Equal(t, 2, cfg.Version, "goreleaser v2 configuration")
	require.Len(t, cfg.Builds, 1)
	bld := cfg.Builds[0]
	assert.Equal(t, "./cmd/lambda-oci", bld.Main)
	assert.DirExists(t, filepath.Join("../..", bld.Main))
	assert.Equal(t, "lambda-oci", bld.Binary)
	assert.Contains(t, bld.Env, "CGO_ENABLED=0")
	assert.Contains(t, bld.Flags, "-trimpath")
	assert.Equal(t, "{{ .CommitTimestamp }}", bld.ModTimestamp, "reproducible archives")
	assert.ElementsMatch(t, []string{"linux", "darwin"}, bld.Goos)
	assert.ElementsMatch(t, []string{"amd64", "arm64"}, bld.Goarch)

	// The -X target is this package's `version` variable: this line stops
	// compiling if it is renamed or retyped, and the ldflags must name it.
	var _ *string = &version
	ld := strings.Join(bld.Ldflags, " ")
	assert.Contains(t, ld, "-X main.version=v{{ .Version }}")

	require.Len(t, cfg.Archives, 1)
	ar := cfg.Archives[0]
	assert.Equal(t, []string{bld.ID}, ar.IDs)
	assert.Equal(t, []string{"tar.gz"}, ar.Formats)
	// The examples and the README download releases/latest/download/NAME.
	assert.Equal(t, "{{ .ProjectName }}_{{ .Os }}_{{ .Arch }}", ar.NameTemplate)
	for _, p := range ar.Files {
		assert.FileExists(t, filepath.Join("../..", p), "archived file")
	}
	assert.True(t, slices.Contains(ar.Files, "LICENSE"), "archives carry the licence")
	assert.Equal(t, "sha256", cfg.Checksum.Algorithm)
	assert.NotEmpty(t, cfg.Checksum.NameTemplate)
}
