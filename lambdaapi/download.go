package lambdaapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/google/renameio/v2"
)

// store is where verified zips live: the cache directory, or a temporary
// directory owned by one result.
type store struct {
	dir       string // holds zips/ and layers/
	temporary bool
}

func openStore(opts Options) (*store, error) {
	if opts.CacheDir != "" {
		for _, sub := range []string{"zips", "layers"} {
			if err := os.MkdirAll(filepath.Join(opts.CacheDir, sub), 0o755); err != nil {
				return nil, fmt.Errorf("lambdaapi: cache directory: %w", err)
			}
		}
		return &store{dir: opts.CacheDir}, nil
	}
	dir, err := os.MkdirTemp("", "lambda-oci-download-")
	if err != nil {
		return nil, fmt.Errorf("lambdaapi: temporary directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "zips"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lambdaapi: temporary directory: %w", err)
	}
	return &store{dir: dir, temporary: true}, nil
}

// discard removes a temporary store (after a failure, or when the caller is done).
func (s *store) discard() {
	if s.temporary {
		os.RemoveAll(s.dir)
	}
}

// writeFileAtomic replaces path with data all at once, fsynced, with mode
// exactly perm. Not renameio.WriteFile: it keeps an existing file's mode,
// and a function config holding environment variables must become
// owner-only whatever was there before. The temporary file goes beside the
// target (not $TMPDIR), so a crash leaves its debris where the file lives.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(perm))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// decodeSha256 turns Lambda's CodeSha256 (base64 of the raw digest) into hex.
func decodeSha256(subject, codeSha256 string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(codeSha256)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("lambdaapi: %s: Lambda returned CodeSha256 %q, which is not a base64 SHA-256", subject, codeSha256)
	}
	return hex.EncodeToString(raw), nil
}

// zipPath is the content-addressed path of a verified zip.
func (s *store) zipPath(hexSum string) string {
	return filepath.Join(s.dir, "zips", hexSum+".zip")
}

// cachedZip returns the path of a verified zip already stored with the
// expected size, or "". The content was verified before the rename that gave
// it its name; the size check catches truncation by something outside us.
func (s *store) cachedZip(hexSum string, size int64) string {
	p := s.zipPath(hexSum)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return ""
	}
	return p
}

// fetchZip returns the path of a verified zip with the given CodeSha256 and
// CodeSize: from the store when present, else downloaded from location.
// It reports whether a download happened.
func (s *store) fetchZip(ctx context.Context, opts Options, subject, location, codeSha256 string, size int64) (string, bool, error) {
	hexSum, err := decodeSha256(subject, codeSha256)
	if err != nil {
		return "", false, err
	}
	if p := s.cachedZip(hexSum, size); p != "" {
		opts.logf("%s: zip %s already in cache", subject, hexSum[:12])
		return p, false, nil
	}
	if location == "" {
		return "", false, fmt.Errorf("lambdaapi: %s: Lambda returned no download location", subject)
	}
	opts.logf("%s: downloading %d bytes", subject, size)
	tmp, err := download(ctx, opts.downloadClient(), subject, location, filepath.Join(s.dir, "zips"), codeSha256, hexSum, size)
	if err != nil {
		return "", false, err
	}
	final := s.zipPath(hexSum)
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("lambdaapi: %s: storing download: %w", subject, err)
	}
	return final, true, nil
}

// download GETs a presigned URL into a temporary file in dir, hashing while
// writing, and returns the file's path only when size and digest match.
func download(ctx context.Context, client *http.Client, subject, location, dir, codeSha256, hexSum string, size int64) (path string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return "", fmt.Errorf("lambdaapi: %s: download URL: %w", subject, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL is a bearer credential: never print it, not even inside
		// url.Error.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("lambdaapi: downloading %s from %s: %w", subject, redact(location), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		detail := s3ErrorDetail(resp.Body)
		if resp.StatusCode == http.StatusForbidden {
			return "", fmt.Errorf("lambdaapi: downloading %s from %s: HTTP 403%s: %w (Lambda's download URLs are valid for 10 minutes; run again to get a fresh one)",
				subject, redact(location), detail, ErrURLExpired)
		}
		return "", fmt.Errorf("lambdaapi: downloading %s from %s: HTTP %d%s", subject, redact(location), resp.StatusCode, detail)
	}

	f, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", fmt.Errorf("lambdaapi: %s: %w", subject, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	// One byte beyond the expected size is enough to know it is too long,
	// without letting a wrong server fill the disk.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, size+1))
	if err != nil {
		return "", fmt.Errorf("lambdaapi: downloading %s from %s: %w", subject, redact(location), err)
	}
	if n != size {
		got := strconv.FormatInt(n, 10)
		if n > size {
			got = "more than " + strconv.FormatInt(size, 10)
		}
		return "", &ChecksumError{Subject: subject, What: "CodeSize", Expected: strconv.FormatInt(size, 10) + " bytes", Got: got + " bytes"}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexSum {
		return "", &ChecksumError{Subject: subject, What: "CodeSha256", Expected: codeSha256,
			Got: base64.StdEncoding.EncodeToString(h.Sum(nil))}
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("lambdaapi: %s: %w", subject, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("lambdaapi: %s: %w", subject, err)
	}
	return f.Name(), nil
}

// redact drops the query (the signature and session token) from a presigned URL.
func redact(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return "(unparseable URL)"
	}
	u.RawQuery = ""
	u.User = nil
	return u.String()
}

// s3ErrorDetail extracts S3's <Code> and <Message> from an error body, so a
// refusal says "AccessDenied: Request has expired" rather than just 403.
func s3ErrorDetail(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 8<<10))
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if len(bytes.TrimSpace(b)) == 0 || xml.Unmarshal(b, &e) != nil || e.Code == "" {
		return ""
	}
	if e.Message == "" {
		return " (" + e.Code + ")"
	}
	return " (" + e.Code + ": " + e.Message + ")"
}
