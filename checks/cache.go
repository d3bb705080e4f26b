package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/renameio/v2"
)

// Reader reads layer listings, through a cache directory when it has one.
// The zero value reads every layer afresh.
type Reader struct {
	// CacheDir holds one JSON listing per layer digest; empty: no cache.
	CacheDir string
}

// Path is where the listing of the layer with digest d is kept.
func (r Reader) Path(d v1.Hash) string {
	return filepath.Join(r.CacheDir, fmt.Sprintf("v%d", listingVersion), d.Algorithm+"-"+d.Hex+".json")
}

// Listing returns the layer's listing from the cache or by reading it once.
func (r Reader) Listing(ctx context.Context, l v1.Layer) (*Listing, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, fmt.Errorf("layer digest: %w", err)
	}
	if rec, ok := r.Cached(d); ok {
		return rec, nil
	}
	rec, err := ReadLayer(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", d, err)
	}
	if r.CacheDir != "" {
		// A cache that cannot be written only costs time on the next build.
		_ = r.store(d, rec)
	}
	return rec, nil
}

// Cached returns the listing of the layer with digest d if the cache has
// it, without reading the layer.
func (r Reader) Cached(d v1.Hash) (*Listing, bool) {
	if r.CacheDir == "" {
		return nil, false
	}
	b, err := os.ReadFile(r.Path(d))
	if err != nil {
		return nil, false
	}
	var rec Listing
	if json.Unmarshal(b, &rec) != nil || rec.Version != listingVersion {
		return nil, false
	}
	return &rec, true
}

func (r Reader) store(d v1.Hash, rec *Listing) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	p := r.Path(d)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(p, b, 0o644)
}
