package image

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFSViewWhiteouts(t *testing.T) {
	v := fsView{}
	v.apply(&layerScan{Entries: []scanEntry{
		{Path: "opt", Type: entDir}, {Path: "opt/a", Type: entDir}, {Path: "opt/a/x.py", Type: entFile},
		{Path: "opt/b.py", Type: entFile}, {Path: "opt/c", Type: entSymlink, Link: "b.py"},
		{Path: "var/task/app.py", Type: entFile},
	}})
	assert.True(t, v.exists("/opt/a/x.py"))
	assert.True(t, v.exists("/opt/c"), "symlinks count as present")
	assert.False(t, v.exists("/opt/a"), "directories are not modules")

	v.apply(&layerScan{Entries: []scanEntry{
		{Path: "opt/a", Type: entOpaque},      // hides opt/a's lower contents
		{Path: "opt/a/new.py", Type: entFile}, // but this layer's own entries stay
		{Path: "opt/b.py", Type: entWhiteout}, // deletes the file
		{Path: "var/task", Type: entWhiteout}, // deletes a whole tree
		{Path: "opt/c", Type: entDir},         // a dir replaces the symlink
		{Path: "opt/c/inner.py", Type: entFile},
	}})
	assert.False(t, v.exists("/opt/a/x.py"))
	assert.True(t, v.exists("/opt/a/new.py"))
	assert.False(t, v.exists("/opt/b.py"))
	assert.False(t, v.exists("/var/task/app.py"))
	assert.True(t, v.exists("/opt/c/inner.py"))
	assert.ElementsMatch(t, []string{"/opt/a/new.py"}, v.glob("/opt/a/*.py"))
}

func TestELFMachine(t *testing.T) {
	m, ok := elfMachine([]byte(elf(elfMachineAArch64)))
	assert.True(t, ok)
	assert.Equal(t, uint16(elfMachineAArch64), m)

	be := []byte(elf(0))
	be[5] = 2              // big endian
	be[18], be[19] = 0, 21 // PowerPC64
	m, ok = elfMachine(be)
	assert.True(t, ok)
	assert.Equal(t, uint16(21), m)
	assert.Equal(t, "e_machine 21", elfMachineName(m))

	_, ok = elfMachine([]byte("#!/bin/sh\necho not an ELF file"))
	assert.False(t, ok)
	_, ok = elfMachine([]byte("\x7fELF"))
	assert.False(t, ok, "too short to hold e_machine")
}

func TestMatchesPrefix(t *testing.T) {
	pre := []string{"opt/", "var/runtime/bootstrap"}
	for p, want := range map[string]bool{
		"opt": true, "opt/x": true, "optx": false, "var/runtime/bootstrap": true,
		"var/runtime/bootstrap.d": false, "var/runtime": false,
	} {
		assert.Equal(t, want, matchesPrefix(p, pre), p)
	}
	assert.True(t, matchesPrefix("anything", []string{""}))
}
