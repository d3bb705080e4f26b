package layerconv

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longPath is a relative path of exactly n bytes made of components of at
// most 200 bytes, so only its total length can be at fault.
func longPath(n int) string {
	var parts []string
	for n > 0 {
		c := min(n, 200)
		if n-c == 1 {
			c-- // a 1-byte remainder would leave no room for its "/"
		}
		parts = append(parts, strings.Repeat(string(rune('a'+len(parts)%26)), c))
		n -= c
		if n > 0 {
			n-- // the "/" before the next component
		}
	}
	return strings.Join(parts, "/")
}

// Names Linux cannot create (a component over NAME_MAX, a path over
// PATH_MAX-1 once the prefix is added, a symlink target over PATH_MAX-1)
// are refused, naming the entry, because GNU tar and podman load fail on
// them later with "File name too long". The limits themselves are accepted.
func TestConvertZipPathLimits(t *testing.T) {
	c256, c255 := strings.Repeat("n", 256), strings.Repeat("n", 255)
	file := func(name string) zent { return zent{name: name, body: "x", mode: 0o644} }
	tests := []struct {
		name   string
		prefix string
		ents   []zent
		want   error  // nil: converted
		entry  string // the entry the message must name
		msg    string
	}{
		{"component of 255 bytes", "", []zent{file("python/" + c255)}, nil, "", ""},
		{"component of 256 bytes", "", []zent{file("python/" + c256)}, ErrNameTooLong, "python/" + c256, "a component of 256 bytes (Linux allows 255)"},
		{"directory component of 300 bytes", "", []zent{{name: strings.Repeat("d", 300) + "/", mode: fs.ModeDir | 0o755}}, ErrNameTooLong, strings.Repeat("d", 300) + "/", "300 bytes"},
		{"parent component of 256 bytes", "", []zent{file(c256 + "/x")}, ErrNameTooLong, c256 + "/x", "256 bytes"},
		{"windows component of 256 bytes", "", []zent{{name: `lib\` + c256, body: "x"}}, ErrNameTooLong, `lib\` + c256, ""},
		{"symlink named with 256 bytes", "", []zent{{name: c256, body: "x", mode: fs.ModeSymlink | 0o777}}, ErrNameTooLong, c256, ""},
		// "/opt/" is 5 bytes.
		{"path of 4095 bytes under /opt", "", []zent{file(longPath(4090))}, nil, "", ""},
		{"path of 4096 bytes under /opt", "", []zent{file(longPath(4091))}, ErrNameTooLong, longPath(4091), "4096 bytes under /opt (Linux allows 4095"},
		{"path of 6 KB", "", []zent{file(longPath(6000))}, ErrNameTooLong, longPath(6000), "6005 bytes under /opt"},
		// "/var/task/" is 10 bytes: the prefix counts.
		{"path of 4095 bytes under /var/task", CodePrefix, []zent{file(longPath(4085))}, nil, "", ""},
		{"path of 4096 bytes under /var/task", CodePrefix, []zent{file(longPath(4086))}, ErrNameTooLong, longPath(4086), "4096 bytes under /var/task"},
		{"path at the root prefix", "/", []zent{file(longPath(4094))}, nil, "", ""},
		{"path over at the root prefix", "/", []zent{file(longPath(4095))}, ErrNameTooLong, longPath(4095), ""},
		{"normalised name is what counts", "", []zent{file("./" + longPath(4090))}, nil, "", ""},
		{"symlink target of 4095 bytes", "", []zent{{name: "l", body: "/" + longPath(4094), mode: fs.ModeSymlink | 0o777}}, nil, "", ""},
		{"symlink target of 4096 bytes", "", []zent{{name: "l", body: "/" + longPath(4095), mode: fs.ModeSymlink | 0o777}}, ErrInvalidSymlink, "l", "target of 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeZip(t, tt.ents)
			tmp := t.TempDir()
			r, err := ConvertZip(context.Background(), p, Options{Prefix: tt.prefix, TempDir: tmp})
			if tt.want == nil {
				require.NoError(t, err)
				defer r.Close()
				readResult(t, r)
				return
			}
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tt.want)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, p, ce.Source)
			assert.Equal(t, tt.entry, ce.Entry)
			assert.Contains(t, err.Error(), fmt.Sprintf("entry %q: ", shorten(tt.entry)))
			assert.Contains(t, err.Error(), tt.msg)
			assertEmptyDir(t, tmp)
		})
	}
}

func TestPrefixPathLimits(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"/" + strings.Repeat("p", 255), true},
		{"/" + strings.Repeat("p", 256), false},
		{"/" + longPath(4094), true},
		{"/" + longPath(4095), false},
	}
	p := writeZip(t, []zent{{name: "a", body: "x", mode: 0o644}})
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes", len(tt.prefix)), func(t *testing.T) {
			r, err := ConvertZip(context.Background(), p, Options{Prefix: tt.prefix, TempDir: t.TempDir()})
			if !tt.ok {
				assert.ErrorIs(t, err, ErrNameTooLong)
				assert.ErrorContains(t, err, "layerconv: prefix ")
				return
			}
			if err == nil {
				r.Close()
				return
			}
			// A prefix may fit while no entry fits under it.
			assert.ErrorIs(t, err, ErrNameTooLong)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "a", ce.Entry)
		})
	}
}

// mkDeep creates rel (a path that may be longer than PATH_MAX once joined
// to dir) through an os.Root, which works one component at a time.
func mkDeep(t *testing.T, dir, rel string, write func(r *os.Root, name string) error) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()
	if i := strings.LastIndexByte(rel, '/'); i > 0 {
		require.NoError(t, root.MkdirAll(rel[:i], 0o755))
	}
	require.NoError(t, write(root, rel))
}

func TestConvertDirPathLimits(t *testing.T) {
	file := func(r *os.Root, name string) error { return r.WriteFile(name, []byte("x"), 0o644) }
	link := func(target string) func(r *os.Root, name string) error {
		return func(r *os.Root, name string) error { return r.Symlink(target, name) }
	}
	tests := []struct {
		name   string
		prefix string
		rel    string
		write  func(r *os.Root, name string) error
		want   error
	}{
		{"path of 4095 bytes under /var/task", CodePrefix, longPath(4085), file, nil},
		{"path of 4096 bytes under /var/task", CodePrefix, longPath(4086), file, ErrNameTooLong},
		{"path of 4096 bytes under /opt", "", longPath(4091), file, ErrNameTooLong},
		{"symlink of 4096 bytes", "", longPath(4091), link("x"), ErrNameTooLong},
		{"directory of 4096 bytes", "", longPath(4091), func(r *os.Root, name string) error { return r.Mkdir(name, 0o755) }, ErrNameTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			mkDeep(t, d, tt.rel, tt.write)
			tmp := t.TempDir()
			r, err := ConvertDir(context.Background(), d, Options{Prefix: tt.prefix, TempDir: tmp})
			if tt.want == nil {
				require.NoError(t, err)
				defer r.Close()
				readResult(t, r)
				return
			}
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tt.want)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.rel, ce.Entry)
			assertEmptyDir(t, tmp)
		})
	}
}

// A long entry name is shown by its ends, so the reason stays readable;
// Error.Entry keeps it whole.
func TestErrorShortensLongEntries(t *testing.T) {
	long := "python/" + strings.Repeat("é", 3000) + "/tail.so"
	tests := []struct {
		name, entry string
		whole       bool
	}{
		{"short", "python/x.so", true},
		{"at the bound", strings.Repeat("a", shortenOver), true},
		{"6 KB of two-byte runes", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := entryErr("l.zip", tt.entry, ErrNameTooLong)
			msg := err.Error()
			if tt.whole {
				assert.Equal(t, fmt.Sprintf("layerconv: l.zip: entry %q: name too long", tt.entry), msg)
				return
			}
			assert.Less(t, len(msg), 400, msg)
			assert.Contains(t, msg, `entry "python/ééé`)
			assert.Contains(t, msg, `é/tail.so": name too long`)
			var head, tail string
			var left int
			shown := shorten(tt.entry)
			i, j := strings.Index(shown, "...("), strings.LastIndex(shown, ")...")
			require.True(t, i > 0 && j > i, shown)
			head, tail = shown[:i], shown[j+len(")..."):]
			_, err = fmt.Sscanf(shown[i:j+1], "...(%d bytes left out)", &left)
			require.NoError(t, err)
			assert.Equal(t, len(tt.entry), len(head)+left+len(tail), "the count is what was left out")
			assert.True(t, strings.HasPrefix(tt.entry, head) && strings.HasSuffix(tt.entry, tail))
			assert.NotContains(t, msg, `\x`, "cut on rune boundaries")
		})
	}
}
