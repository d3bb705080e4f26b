package checks

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// Origin says where a layer came from: the base, or this build.
type Origin string

// Layer origins.
const (
	Base  Origin = "base"
	Added Origin = "added"
	// Own: a layer of an image checked as it is (check, fix), with no
	// base to excuse its faults.
	Own Origin = "image"
)

// Layer is one layer of the image under check: what the manifest and
// config say of it, and its listing.
type Layer struct {
	Digest    v1.Hash
	MediaType types.MediaType
	// Size is the compressed size the manifest declares.
	Size int64
	// DiffID is what the config declares (rootfs.diff_ids); the listing has
	// the digest of the content as read.
	DiffID  v1.Hash
	Origin  Origin
	Listing *Listing
	// Kind (base, layer, code, bootstrap) and Source (a base reference, a
	// zip name, a layer version ARN) name the layer in tables.
	Kind   string
	Source string
}

// Listed reports whether the layer was read (not only recorded).
func (l Layer) Listed() bool { return l.Listing != nil && !l.Listing.Recorded }

// Image is what the rules look at: an image's manifest media type and size,
// its config, and its layers with their listings.
type Image struct {
	MediaType    types.MediaType
	ManifestSize int64
	Config       *v1.ConfigFile
	Layers       []Layer
	// Index is the index this manifest was picked from, when the
	// reference named one (Lambda refuses indexes).
	Index *Index
}

// View is the merged file tree of the image's layers.
func (img *Image) View() *View {
	ls := make([]*Listing, len(img.Layers))
	for i := range img.Layers {
		ls[i] = img.Layers[i].Listing
	}
	return Merge(ls)
}

// Config is what an image is checked against. The zero value checks an
// image for what it says it is: its own platform, CMD, task root, and a
// runtime family told by its files.
type Config struct {
	// Arch is the function's architecture ("" : the image's own platform).
	Arch lambda.Arch
	// Family and Version choose the handler convention ("": detected from
	// the image's LangBinDir).
	Family  lambda.Family
	Version string
	// Handler is the function's handler ("": the image's CMD[0]).
	Handler string
	// MaxSize bounds the uncompressed size (0: lambda.MaxImageSize).
	MaxSize int64
	// AllowArchMismatch reports native code for another architecture as a
	// warning instead of a refusal.
	AllowArchMismatch bool
}

// check is the state one Run shares between rules.
type check struct {
	img      *Image
	cfg      Config
	view     *View
	taskRoot string
}

// rule is one of Lambda's rules.
type rule func(c *check) []Finding

// rules are every rule, in the order their findings are reported: what
// Lambda refuses at deploy first, then what fails at invoke, then advice.
func rules() []rule {
	return []rule{
		indexRule, mediaTypes, foreignLayers, compression, diffIDs, parentDirs, hardLinks, size,
		platform, handler, architecture, permissions, entrypoint, layerLayout, staleBytecode, manifestSize,
	}
}

// Run applies every rule to the image and returns the findings, refusals
// and warnings together (Errors picks the refusals).
func Run(img *Image, cfg Config) []Finding {
	c := &check{img: img, cfg: cfg, view: img.View()}
	if c.cfg.MaxSize == 0 {
		c.cfg.MaxSize = lambda.MaxImageSize
	}
	c.taskRoot = lambda.DefaultTaskRoot
	if img.Config != nil {
		if tr, err := TaskRoot(img.Config); err == nil {
			c.taskRoot = tr
		}
		if c.cfg.Handler == "" && len(img.Config.Config.Cmd) > 0 {
			c.cfg.Handler = img.Config.Config.Cmd[0]
		}
		if c.cfg.Arch == "" {
			c.cfg.Arch, _ = lambda.ArchOf(img.Config.Platform())
		}
	}
	var out []Finding
	for _, r := range rules() {
		out = append(out, r(c)...)
	}
	return out
}

// layerFinding fills a finding's layer fields.
func (c *check) layerFinding(i int, f Finding) Finding {
	l := c.img.Layers[i]
	f.Layer, f.LayerDigest, f.Origin = i+1, l.Digest, l.Origin
	return f
}

// listPaths renders up to maxListed paths, one per line.
func listPaths(ps []string) string {
	shown, more := ps, ""
	if len(shown) > maxListed {
		shown, more = shown[:maxListed], fmt.Sprintf("\n  ... and %d more", len(ps)-maxListed)
	}
	s := ""
	for _, p := range shown {
		s += "\n  " + p
	}
	return s + more
}
