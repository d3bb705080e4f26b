// Package fix turns an image (or an index's platform manifest) into one
// Lambda accepts, changing only what Lambda refuses: layers that are not
// gzip are compressed, missing parent directory entries are added, hard
// links become regular files, modes under the function's paths become
// readable by everyone, foreign layers become regular ones. The config
// (but its diff_ids), the layer order and every layer that needed nothing
// stay byte for byte; an image that needs nothing is returned as it is,
// with its digest. What cannot be repaired without changing what the
// function is (architecture, size, handler, entrypoint, platform) is
// refused with the findings. Silent, like every library here.
package fix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"runtime"
	"time"

	"archive/tar"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
)

// Options configure a fix.
type Options struct {
	// Config is what the image is checked against (architecture, runtime,
	// handler, size limit).
	Config checks.Config
	// Load says how layers are read (cache, parallelism).
	Load checks.LoadOptions
	// TempDir holds rewritten layers until Result.Close ("": the system's).
	TempDir string
	// Created is the mtime of directory entries the fix adds (zero: the
	// Unix epoch), for reproducible output.
	Created time.Time
}

// fixable are the refusals this package repairs; any other refusal stops it.
var fixable = map[string]bool{
	checks.RuleIndex: true, checks.RuleForeignLayer: true, checks.RuleUncompressedLayer: true,
	checks.RuleZstdLayer: true, checks.RuleParentDirs: true, checks.RuleHardLinks: true,
	checks.RulePermissions: true,
}

// LayerChange is what the fix did to one layer.
type LayerChange struct {
	// Layer is the 1-based layer index.
	Layer         int             `json:"layer"`
	From          v1.Hash         `json:"from"`
	To            v1.Hash         `json:"to"`
	FromMediaType types.MediaType `json:"fromMediaType"`
	MediaType     types.MediaType `json:"mediaType"`
	Changes       []string        `json:"changes"`
}

// Result is a fixed image.
type Result struct {
	// Image is the Lambda-ready image; Digest its manifest digest.
	Image  v1.Image
	Digest v1.Hash
	// Before is the verdict on the image as given.
	Before *checks.Report
	// Changed is false when the image needed nothing (it is the
	// reference's own manifest, or the index's platform manifest).
	Changed bool
	Layers  []LayerChange
	// Findings are the fixed image's: warnings only.
	Findings []checks.Finding
	dir      string
}

// Close removes the rewritten layers; Image is unusable after it.
func (r *Result) Close() error {
	if r == nil || r.dir == "" {
		return nil
	}
	return os.RemoveAll(r.dir)
}

// UnfixableError is an image with refusals the fix does not repair.
type UnfixableError struct {
	// Err holds the refusals that cannot be repaired.
	Err *checks.Error
}

func (e *UnfixableError) Error() string {
	return "cannot make the image Lambda-ready without changing what it runs: " + e.Err.Error()
}

func (e *UnfixableError) Unwrap() error { return e.Err }

// Fix checks an index or an image (exactly one of idx and img) and returns
// its Lambda-ready form. On an *UnfixableError the Result still carries
// Before, the findings.
func Fix(ctx context.Context, idx v1.ImageIndex, img v1.Image, opts Options) (*Result, error) {
	rep, err := checks.Check(ctx, idx, img, opts.Config, opts.Load)
	if err != nil {
		return nil, err
	}
	res := &Result{Before: rep}
	var refuse []checks.Finding
	for _, f := range rep.Findings {
		if f.Severity != checks.Refuse {
			continue
		}
		// A manifest of a type Lambda does not take is not a layer's fault.
		if !fixable[f.Rule] && !(f.Rule == checks.RuleMediaType && f.Layer > 0) {
			refuse = append(refuse, f)
		}
	}
	if rep.Image == nil && len(refuse) == 0 {
		refuse = rep.Findings
	}
	if len(refuse) > 0 {
		return res, &UnfixableError{Err: &checks.Error{Findings: refuse}}
	}
	fam, err := image.FamilyOf(rep.Image.MediaType)
	if err != nil {
		return res, fmt.Errorf("manifest %s: %w", rep.Manifest, err)
	}
	plans, err := planLayers(rep, fam)
	if err != nil {
		return res, err
	}
	res.Image = rep.Selected
	needs := false
	for _, p := range plans {
		needs = needs || p.needed()
	}
	if needs {
		if err := res.rewrite(ctx, rep, plans, opts); err != nil {
			res.Close()
			return nil, err
		}
	}
	if res.Digest, err = res.Image.Digest(); err != nil {
		res.Close()
		return nil, fmt.Errorf("fixed image digest: %w", err)
	}
	// The repaired image is checked like any other: a fix that left a
	// refusal behind is a bug, not a result.
	after, err := checks.Load(ctx, res.Image, opts.Load)
	if err != nil {
		res.Close()
		return nil, fmt.Errorf("reading the fixed image: %w", err)
	}
	res.Findings = checks.Run(after, opts.Config)
	if err := checks.Errors(res.Findings); err != nil {
		res.Close()
		return nil, fmt.Errorf("the fixed image still breaks Lambda's rules: %w", err)
	}
	return res, nil
}

// planLayers decides what each layer needs, from its listing and the
// merged view.
func planLayers(rep *checks.Report, fam image.Family) ([]*plan, error) {
	img := rep.Image
	taskRoot, err := checks.TaskRoot(img.Config)
	if err != nil {
		return nil, err
	}
	roots := checks.FunctionRoots(taskRoot)
	ep := ""
	if len(img.Config.Config.Entrypoint) > 0 {
		ep = path.Clean(img.Config.Config.Entrypoint[0])
	}
	modeFix := func(rel string, h *tar.Header) bool {
		abs := "/" + rel
		isReg := h.Typeflag == tar.TypeReg
		if abs == ep && isReg && h.Mode&0o005 != 0o005 {
			h.Mode |= 0o555
			return true
		}
		under := false
		for _, r := range roots {
			under = under || abs == r || len(abs) > len(r) && abs[:len(r)+1] == r+"/"
		}
		if !under || checks.Readable(checks.Entry{Type: h.Typeflag, Mode: h.Mode}) {
			return false
		}
		switch {
		case h.Typeflag == tar.TypeDir:
			h.Mode |= 0o555
		case h.Mode&0o111 != 0:
			h.Mode |= 0o555
		default:
			h.Mode |= 0o444
		}
		return true
	}
	unreadable := checks.Unreadable(img, taskRoot)
	plans := make([]*plan, len(img.Layers))
	for i, l := range img.Layers {
		layer, err := rep.Selected.LayerByDigest(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		p := &plan{index: i, layer: layer, listing: l.Listing, from: l.MediaType, mt: l.MediaType,
			modeFix: modeFix, hasModes: len(unreadable[i]) > 0,
			recompress: l.Listing.Compression != checks.Gzip}
		if p.recompress || !l.MediaType.IsDistributable() || !sameFamily(l.MediaType, fam) {
			p.mt = fam.Layer
		}
		dirs := map[string]bool{}
		for _, e := range l.Listing.Entries {
			if e.Type == tar.TypeDir {
				dirs[e.Path] = true
			}
		}
		for _, e := range l.Listing.Entries {
			for _, d := range ancestors(e.Path) {
				if !dirs[d] {
					if p.missing == nil {
						p.missing = map[string]int64{}
					}
					p.missing[d] = 0o755
				}
			}
			if e.Type == tar.TypeLink {
				if p.linked == nil {
					p.linked = map[string]bool{}
				}
				p.linked[clean(e.Link)] = true
			}
		}
		if len(p.missing) > 0 {
			// A directory the layers below already have keeps their mode
			// (made searchable if it is a function path).
			below := (&checks.Image{Layers: img.Layers[:i]}).View()
			for d := range p.missing {
				if n, ok := below.Lookup(d); ok && n.IsDir() {
					h := &tar.Header{Typeflag: tar.TypeDir, Mode: n.Mode}
					modeFix(d, h)
					p.missing[d] = h.Mode
				}
			}
		}
		plans[i] = p
	}
	return plans, nil
}

// sameFamily: a gzip layer type of the manifest's family, as Lambda wants.
func sameFamily(mt types.MediaType, fam image.Family) bool { return mt == fam.Layer }

// rewrite writes the layers that need it, then the config and manifest that
// name them.
func (res *Result) rewrite(ctx context.Context, rep *checks.Report, plans []*plan, opts Options) error {
	dir, err := os.MkdirTemp(opts.TempDir, "lambda-oci-fix-")
	if err != nil {
		return err
	}
	res.dir = dir
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	newLayers := make([]partial.CompressedLayer, len(plans))
	changes := make([][]string, len(plans))
	jobs := opts.Load.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, p := range plans {
		switch {
		case !p.needed():
			continue
		case !p.entries() && !p.recompress:
			newLayers[i] = retyped{Layer: p.layer, mt: p.mt}
			changes[i] = []string{fmt.Sprintf("media type %s -> %s (same blob)", p.from, p.mt)}
			continue
		}
		g.Go(func() error {
			fl, ch, err := rewrite(gctx, p, dir, created)
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i+1, rep.Image.Layers[i].Digest, err)
			}
			if p.from != p.mt {
				ch = append(ch, fmt.Sprintf("media type %s -> %s", p.from, p.mt))
			}
			newLayers[i], changes[i] = fl, ch
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	src := rep.Selected
	m, err := src.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	m = m.DeepCopy()
	rawCfg, err := src.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	byDigest := map[v1.Hash]partial.CompressedLayer{}
	wantDiffIDs := append([]v1.Hash{}, rep.Image.Config.RootFS.DiffIDs...)
	for i, nl := range newLayers {
		if nl == nil {
			continue
		}
		d, _ := nl.Digest()
		size, _ := nl.Size()
		mt, _ := nl.MediaType()
		byDigest[d] = nl
		old := m.Layers[i]
		m.Layers[i] = v1.Descriptor{MediaType: mt, Size: size, Digest: d, Annotations: old.Annotations}
		res.Layers = append(res.Layers, LayerChange{Layer: i + 1, From: old.Digest, To: d, FromMediaType: old.MediaType, MediaType: mt, Changes: changes[i]})
		if fl, ok := nl.(*fileLayer); ok && i < len(wantDiffIDs) && fl.diffID != wantDiffIDs[i] {
			// The config's bytes stay as they were but for the diff_ids
			// that name rewritten content.
			rawCfg = bytes.ReplaceAll(rawCfg, []byte(`"`+wantDiffIDs[i].String()+`"`), []byte(`"`+fl.diffID.String()+`"`))
			wantDiffIDs[i] = fl.diffID
		}
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(rawCfg, &cf); err != nil {
		return fmt.Errorf("config after replacing diff_ids: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(wantDiffIDs) {
		return fmt.Errorf("config after replacing diff_ids: %d diff_ids, want %d", len(cf.RootFS.DiffIDs), len(wantDiffIDs))
	}
	for i := range wantDiffIDs {
		if cf.RootFS.DiffIDs[i] != wantDiffIDs[i] {
			return fmt.Errorf("config after replacing diff_ids: diff_ids[%d] is %s, want %s", i, cf.RootFS.DiffIDs[i], wantDiffIDs[i])
		}
	}
	h := sha256.Sum256(rawCfg)
	m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h[:])}
	m.Config.Size = int64(len(rawCfg))
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	mt, err := src.MediaType()
	if err != nil {
		return err
	}
	img, err := partial.CompressedToImage(&core{src: src, raw: rawManifest, rawCfg: rawCfg, mt: mt, layers: byDigest})
	if err != nil {
		return err
	}
	res.Image, res.Changed = img, true
	return nil
}

// core is the fixed image: the new manifest and config, the rewritten
// layers, and the source's layers for everything else.
type core struct {
	src         v1.Image
	raw, rawCfg []byte
	mt          types.MediaType
	layers      map[v1.Hash]partial.CompressedLayer
}

func (c *core) RawConfigFile() ([]byte, error)      { return c.rawCfg, nil }
func (c *core) MediaType() (types.MediaType, error) { return c.mt, nil }
func (c *core) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *core) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := c.layers[h]; ok {
		return l, nil
	}
	return c.src.LayerByDigest(h)
}
