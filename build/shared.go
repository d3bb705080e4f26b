package build

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// Shared lets the Builds of one process share their expensive steps: each
// distinct base is fetched once per architecture, each base layer measured
// once, each layer version ARN resolved (and downloaded) once, and each
// input converted once for a given prefix, time and limit. The disk cache
// already spares a later process this work; Shared also spares concurrent
// builds, which would otherwise all miss the cache at the same moment, and
// builds run without a cache (--no-cache).
//
// A Shared is used through Options.Shared and owns what it keeps
// (downloaded layer versions, converted layers outside the cache): Close it
// once every Build using it has been published and closed. The zero value
// is not usable; call NewShared.
type Shared struct {
	bases    memo[baseKey, v1.Image]
	listings memo[v1.Hash, *checks.Listing]
	versions memo[string, *lambdaapi.LayerFile]
	convs    memo[convKey, *layerconv.Result]
	ids      memo[string, sourceID]

	mu      sync.Mutex
	closers []func() error

	baseFetches, measures, versionFetches, conversions atomic.Int64
}

// NewShared returns an empty Shared.
func NewShared() *Shared { return &Shared{} }

// SharedStats counts the work a Shared actually did (every other request
// was answered from what it kept).
type SharedStats struct {
	// BaseFetches is how many base references were resolved (per architecture).
	BaseFetches int64 `json:"baseFetches"`
	// BaseLayerMeasures is how many base layers were listed and measured.
	BaseLayerMeasures int64 `json:"baseLayerMeasures"`
	// LayerVersionFetches is how many layer version ARNs were resolved.
	LayerVersionFetches int64 `json:"layerVersionFetches"`
	// Conversions is how many inputs were converted (or found in the disk cache).
	Conversions int64 `json:"conversions"`
}

// Stats reports the work done so far.
func (s *Shared) Stats() SharedStats {
	return SharedStats{
		BaseFetches: s.baseFetches.Load(), BaseLayerMeasures: s.measures.Load(),
		LayerVersionFetches: s.versionFetches.Load(), Conversions: s.conversions.Load(),
	}
}

// Close releases what the Shared kept. Images built with it cannot be read
// afterwards.
func (s *Shared) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	cs := s.closers
	s.closers = nil
	s.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		errs = append(errs, cs[i]())
	}
	return errors.Join(errs...)
}

func (s *Shared) own(f func() error) {
	s.mu.Lock()
	s.closers = append(s.closers, f)
	s.mu.Unlock()
}

type baseKey struct {
	ref  string
	arch lambda.Arch
}

// convKey is everything a conversion's output depends on besides the
// input's content, which does not change during one process.
type convKey struct {
	path, prefix, cacheDir string
	modTime                time.Time
	maxSize                int64
	noPycRewrite           bool
	sel                    string // layerconv.Selection.Key, "" for the whole input
}

// base returns the platform's base image for ref, fetching it once.
func (s *Shared) base(ctx context.Context, ref string, arch lambda.Arch, fetch func() (v1.Image, error)) (v1.Image, error) {
	if s == nil {
		return fetch()
	}
	return s.bases.do(ctx, baseKey{ref, arch}, func() (v1.Image, error) {
		s.baseFetches.Add(1)
		return fetch()
	})
}

// listing measures a base layer once per digest.
func (s *Shared) listing(ctx context.Context, d v1.Hash, measure func() (*checks.Listing, error)) (*checks.Listing, error) {
	if s == nil {
		return measure()
	}
	return s.listings.do(ctx, d, func() (*checks.Listing, error) {
		s.measures.Add(1)
		return measure()
	})
}

// layerVersion resolves a layer version ARN once. owned reports that the
// Shared releases the file, not the caller.
func (s *Shared) layerVersion(ctx context.Context, arn string, fetch func() (*lambdaapi.LayerFile, error)) (lf *lambdaapi.LayerFile, owned bool, err error) {
	if s == nil {
		lf, err = fetch()
		return lf, false, err
	}
	lf, err = s.versions.do(ctx, arn, func() (*lambdaapi.LayerFile, error) {
		s.versionFetches.Add(1)
		lf, err := fetch()
		if err == nil {
			s.own(func() error { lf.Remove(); return nil })
		}
		return lf, err
	})
	return lf, true, err
}

// convert converts an input once per key. owned reports that the Shared
// closes the result, not the caller.
func (s *Shared) convert(ctx context.Context, k convKey, conv func() (*layerconv.Result, error)) (res *layerconv.Result, owned bool, err error) {
	if s == nil {
		res, err = conv()
		return res, false, err
	}
	res, err = s.convs.do(ctx, k, func() (*layerconv.Result, error) {
		s.conversions.Add(1)
		res, err := conv()
		if err == nil {
			s.own(res.Close)
		}
		return res, err
	})
	return res, true, err
}

// identity computes an input's identity once per path.
func (s *Shared) identity(ctx context.Context, path string, id func() (sourceID, error)) (sourceID, error) {
	if s == nil {
		return id()
	}
	return s.ids.do(ctx, path, id)
}

// memo runs a function once per key and keeps its result, errors included
// (the same input fails the same way for every function that uses it),
// except cancellations: a caller whose context is still live runs it again.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*memoCall[V]
}

type memoCall[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (m *memo[K, V]) do(ctx context.Context, k K, f func() (V, error)) (V, error) {
	for {
		m.mu.Lock()
		if m.m == nil {
			m.m = map[K]*memoCall[V]{}
		}
		c, ok := m.m[k]
		if !ok {
			c = &memoCall[V]{done: make(chan struct{})}
			m.m[k] = c
			m.mu.Unlock()
			c.v, c.err = f()
			if canceled(c.err) {
				m.mu.Lock()
				delete(m.m, k)
				m.mu.Unlock()
			}
			close(c.done)
			return c.v, c.err
		}
		m.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if canceled(c.err) && ctx.Err() == nil {
			continue // another caller's cancellation, not ours: try again
		}
		return c.v, c.err
	}
}

func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
