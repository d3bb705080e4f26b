package lambdaapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LayerFile is a layer version's zip, downloaded and verified.
type LayerFile struct {
	// Path is the verified zip.
	Path string `json:"-"`
	// ARN is the layer version ARN.
	ARN string `json:"arn"`
	// CodeSha256 is Lambda's digest: base64 of the raw SHA-256 of the zip.
	CodeSha256 string `json:"codeSha256"`
	CodeSize   int64  `json:"codeSize"`
	// CompatibleRuntimes and CompatibleArchitectures are the layer's
	// declarations; empty means none were declared.
	CompatibleRuntimes      []string `json:"compatibleRuntimes,omitempty"`
	CompatibleArchitectures []string `json:"compatibleArchitectures,omitempty"`
	// FromCache reports that neither an API call nor a download was made.
	FromCache bool `json:"-"`
	// Downloaded reports that the zip was fetched from Lambda's URL (false
	// when the zip was found in the cache by its digest).
	Downloaded bool `json:"-"`

	st *store
}

// Remove deletes the zip when it lives in a temporary directory (no
// CacheDir); cached zips are kept.
func (l *LayerFile) Remove() {
	if l != nil && l.st != nil {
		l.st.discard()
	}
}

// CompatibilityWarning returns a warning when the layer declares compatible
// runtimes or architectures that exclude runtime or arch (Lambda's names:
// "python3.12", "x86_64"), and "" otherwise. An empty runtime (a build from
// an explicit base) skips the runtime check. Lambda itself only refuses
// incompatible layers at CreateFunction for zip functions; in an image the
// mismatch shows up at invoke time, hence a warning rather than an error.
func (l *LayerFile) CompatibilityWarning(runtime, arch string) string {
	var why []string
	if runtime != "" && len(l.CompatibleRuntimes) > 0 && !slices.Contains(l.CompatibleRuntimes, runtime) {
		why = append(why, fmt.Sprintf("runtime %s is not among its compatible runtimes [%s]", runtime, strings.Join(l.CompatibleRuntimes, ", ")))
	}
	if arch != "" && len(l.CompatibleArchitectures) > 0 && !slices.Contains(l.CompatibleArchitectures, arch) {
		why = append(why, fmt.Sprintf("architecture %s is not among its compatible architectures [%s]", arch, strings.Join(l.CompatibleArchitectures, ", ")))
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("layer %s: %s", l.ARN, strings.Join(why, "; "))
}

// layerIndexEntry is what the cache remembers about a layer version.
type layerIndexEntry struct {
	ARN                     string   `json:"arn"`
	CodeSha256              string   `json:"codeSha256"`
	CodeSize                int64    `json:"codeSize"`
	CompatibleRuntimes      []string `json:"compatibleRuntimes,omitempty"`
	CompatibleArchitectures []string `json:"compatibleArchitectures,omitempty"`
}

func (s *store) indexPath(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return filepath.Join(s.dir, "layers", hex.EncodeToString(sum[:])+".json")
}

// lookupLayer returns the cached layer version, or nil when the index or its
// zip is missing or unreadable (a cache miss, never an error: the API is
// the source of truth).
func (s *store) lookupLayer(arn string) *LayerFile {
	if s.temporary {
		return nil
	}
	b, err := os.ReadFile(s.indexPath(arn))
	if err != nil {
		return nil
	}
	var e layerIndexEntry
	if json.Unmarshal(b, &e) != nil || e.ARN != arn {
		return nil
	}
	hexSum, err := decodeSha256(arn, e.CodeSha256)
	if err != nil {
		return nil
	}
	p := s.cachedZip(hexSum, e.CodeSize)
	if p == "" {
		return nil
	}
	return &LayerFile{Path: p, ARN: e.ARN, CodeSha256: e.CodeSha256, CodeSize: e.CodeSize,
		CompatibleRuntimes: e.CompatibleRuntimes, CompatibleArchitectures: e.CompatibleArchitectures, FromCache: true}
}

func (s *store) rememberLayer(l *LayerFile) error {
	if s.temporary {
		return nil
	}
	b, err := json.Marshal(layerIndexEntry{ARN: l.ARN, CodeSha256: l.CodeSha256, CodeSize: l.CodeSize,
		CompatibleRuntimes: l.CompatibleRuntimes, CompatibleArchitectures: l.CompatibleArchitectures})
	if err != nil {
		return err
	}
	return writeFileAtomic(s.indexPath(l.ARN), append(b, '\n'), 0o644)
}

// FetchLayer returns the verified zip of a layer version: from the cache
// without any API call when the version is indexed there, else through
// GetLayerVersionByArn (in the ARN's region) and a download of
// Content.Location checked against Content.CodeSize and Content.CodeSha256.
func FetchLayer(ctx context.Context, arn string, opts Options) (*LayerFile, error) {
	parsed, st, l, err := cachedLayer(arn, opts)
	if err != nil {
		return nil, err
	}
	if l != nil {
		opts.logf("layer %s: cached (%d bytes)", l.ARN, l.CodeSize)
		return l, nil
	}
	l, err = fetchLayer(ctx, st, parsed, opts)
	if err != nil {
		st.discard()
		return nil, err
	}
	return l, nil
}

func fetchLayer(ctx context.Context, st *store, parsed LayerARN, opts Options) (*LayerFile, error) {
	arn := parsed.String()
	client, _, err := newClient(ctx, opts, parsed.Region)
	if err != nil {
		return nil, err
	}
	v, location, err := describeLayerVersion(ctx, client, arn)
	if err != nil {
		return nil, err
	}
	l := &LayerFile{ARN: arn, CodeSha256: v.CodeSha256, CodeSize: v.CodeSize,
		CompatibleRuntimes: v.CompatibleRuntimes, CompatibleArchitectures: v.CompatibleArchitectures}
	l.Path, l.Downloaded, err = st.fetchZip(ctx, opts, "layer "+arn, location, l.CodeSha256, l.CodeSize)
	if err != nil {
		return nil, err
	}
	if err := st.rememberLayer(l); err != nil {
		// The zip is verified and usable; only the next run's shortcut is lost.
		opts.logf("layer %s: not indexed in the cache: %v", arn, err)
	}
	if st.temporary {
		l.st = st
	}
	return l, nil
}

// cachedLayer parses arn, opens the store and looks the version up in
// it: the cached version, or nil and the store to fetch into.
func cachedLayer(arn string, opts Options) (LayerARN, *store, *LayerFile, error) {
	parsed, err := ParseLayerARN(arn)
	if err != nil {
		return LayerARN{}, nil, nil, err
	}
	st, err := openStore(opts)
	if err != nil {
		return LayerARN{}, nil, nil, err
	}
	return parsed, st, st.lookupLayer(parsed.String()), nil
}

// DescribeLayer says what a layer version is — its CodeSha256, size and
// compatibility declarations — without downloading its zip: from the
// cache when the version is there (Path then set), else from
// GetLayerVersionByArn alone (Path empty). A caller that can use an image
// layer recorded for this ARN and CodeSha256 needs no more; one that needs
// the files calls FetchLayer.
func DescribeLayer(ctx context.Context, arn string, opts Options) (*LayerFile, error) {
	parsed, st, l, err := cachedLayer(arn, opts)
	if err != nil {
		return nil, err
	}
	defer st.discard()
	if l != nil {
		return l, nil
	}
	arn = parsed.String()
	client, _, err := newClient(ctx, opts, parsed.Region)
	if err != nil {
		return nil, err
	}
	v, _, err := describeLayerVersion(ctx, client, arn)
	if err != nil {
		return nil, err
	}
	return &LayerFile{ARN: arn, CodeSha256: v.CodeSha256, CodeSize: v.CodeSize,
		CompatibleRuntimes: v.CompatibleRuntimes, CompatibleArchitectures: v.CompatibleArchitectures}, nil
}

// ResolveLayer turns a build's layer input into a zip path: a value
// starting with "arn:" is fetched as a layer version (and must be a valid
// layer version ARN); anything else is a path and passes through unchanged
// with a nil *LayerFile.
func ResolveLayer(ctx context.Context, arnOrPath string, opts Options) (string, *LayerFile, error) {
	if !strings.HasPrefix(arnOrPath, "arn:") {
		return arnOrPath, nil, nil
	}
	l, err := FetchLayer(ctx, arnOrPath, opts)
	if err != nil {
		return "", nil, err
	}
	return l.Path, l, nil
}
