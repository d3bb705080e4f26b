package checks

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// SizeRow is one layer of a size table.
type SizeRow struct {
	Digest           v1.Hash `json:"digest"`
	Kind             string  `json:"kind"`
	Source           string  `json:"source"`
	Size             int64   `json:"size"`
	UncompressedSize int64   `json:"uncompressedSize"`
	// Declared marks an input that was never converted: UncompressedSize is
	// what its entries declare, Digest and Size are unknown, Note says why.
	Declared bool   `json:"declared,omitempty"`
	Note     string `json:"note,omitempty"`
}

// SizeError is an image over Lambda's uncompressed size limit, with the
// per-layer breakdown that shows what to trim.
type SizeError struct {
	Limit  int64
	Total  int64
	Layers []SizeRow
	// Note qualifies the table ("the base is not counted: ...").
	Note string
}

func (e *SizeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "image is %s uncompressed, over the limit of %s (Lambda counts every layer, base included):\n",
		HumanBytes(e.Total), HumanBytes(e.Limit))
	fmt.Fprintf(&b, "  %-19s  %-9s  %14s  %14s  %s\n", "DIGEST", "KIND", "COMPRESSED", "UNCOMPRESSED", "SOURCE")
	var comp int64
	for _, l := range e.Layers {
		if l.Declared {
			// Never converted: no digest, no compressed size, only what
			// the input declares.
			fmt.Fprintf(&b, "  %-19s  %-9s  %14s  %14d  %s (declared size: %s)\n", "-", l.Kind, "-", l.UncompressedSize, l.Source, l.Note)
			continue
		}
		comp += l.Size
		fmt.Fprintf(&b, "  %-19s  %-9s  %14d  %14d  %s\n", shortDigest(l.Digest), l.Kind, l.Size, l.UncompressedSize, l.Source)
	}
	fmt.Fprintf(&b, "  %-19s  %-9s  %14d  %14d", "total", "", comp, e.Total)
	if e.Note != "" {
		b.WriteString("\n  (" + e.Note + ")")
	}
	return b.String()
}

// HumanBytes renders a size for people, with the exact count beside it:
// "10 GiB (10,737,418,240 bytes)".
func HumanBytes(n int64) string {
	if n < 1024 {
		return humanize.Comma(n) + " bytes"
	}
	return fmt.Sprintf("%s (%s bytes)", humanize.IBytes(uint64(n)), humanize.Comma(n))
}

// SizeTable is the per-layer table of an image.
func (img *Image) SizeTable() (rows []SizeRow, total int64) {
	for _, l := range img.Layers {
		var u int64
		if l.Listing != nil {
			u = l.Listing.UncompressedSize
		}
		rows = append(rows, SizeRow{Digest: l.Digest, Kind: l.Kind, Source: l.Source, Size: l.Size, UncompressedSize: u})
		total += u
	}
	return rows, total
}

// size: every layer uncompressed, base included, within the limit.
func size(c *check) []Finding {
	rows, total := c.img.SizeTable()
	if total <= c.cfg.MaxSize {
		return nil
	}
	err := &SizeError{Limit: c.cfg.MaxSize, Total: total, Layers: rows}
	return []Finding{{Rule: RuleSize, Severity: Refuse, Err: err, Message: err.Error(),
		Hint: fmt.Sprintf("Lambda's limit is %s; trim the largest layers", HumanBytes(lambda.MaxImageSize))}}
}

// manifestSize: AWS advises manifests under 25,400 bytes for fast pulls.
func manifestSize(c *check) []Finding {
	if c.img.ManifestSize <= lambda.ManifestSizeAdvice {
		return nil
	}
	return []Finding{{Rule: RuleManifestSize, Severity: Warn,
		Message: fmt.Sprintf("manifest is %d bytes, over the %d AWS recommends for fast pulls (%d layers): merge layers to shrink it", c.img.ManifestSize, lambda.ManifestSizeAdvice, len(c.img.Layers))}}
}
