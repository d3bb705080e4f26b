package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

type convertFlags struct {
	output string
	prefix string
	json   bool
	// noPycRewrite leaves .pyc headers as they are (layerconv.Options.NoPycRewrite).
	noPycRewrite bool
	cache        cacheFlags
}

// convertJSON is the --json output; the keys are part of the CLI contract.
type convertJSON struct {
	SchemaVersion    int      `json:"schemaVersion"`
	Digest           string   `json:"digest"`
	DiffID           string   `json:"diffID"`
	Size             int64    `json:"size"`
	UncompressedSize int64    `json:"uncompressedSize"`
	Files            int      `json:"files"`
	Dirs             int      `json:"dirs"`
	Symlinks         int      `json:"symlinks"`
	Dropped          []string `json:"dropped"`
	Normalized       int      `json:"normalized"`
	PycRewritten     int      `json:"pycRewritten"`
	CacheHit         bool     `json:"cacheHit"`
	Output           string   `json:"output"`
}

func newConvertCmd(a *app) *cobra.Command {
	var f convertFlags
	cmd := &cobra.Command{
		Use:   "convert ZIP|DIR -o OUT.tar.gz",
		Short: "Convert a Lambda layer zip (or a code zip/directory) into an OCI layer .tar.gz",
		Long: `Convert a Lambda layer .zip into a gzip-compressed OCI layer rooted at ` + lambda.OptDir + `
(--prefix ` + lambda.DefaultTaskRoot + ` for function code; a directory works too). Paths are
normalised and sorted, every parent directory gets an entry, files become
0644/0755, symlinks are kept, unsafe entries are refused, and the output is
byte-for-byte reproducible (mtimes from SOURCE_DATE_EPOCH, else 1970-01-01).

Python .pyc files that are valid for their .py in the input record the
layer's mtime instead of the source's, so Python keeps using them rather
than compiling at every cold start; stale, hash-based and orphan .pyc files
are left as they are (--no-pyc-rewrite leaves all of them).

Prints the layer digest, or with --json one object with schemaVersion,
digest, diffID, size, uncompressedSize, files, dirs, symlinks, dropped,
normalized, pycRewritten, cacheHit and output.

Converted zips are cached by content in --cache-dir (default
$LAMBDA_OCI_CACHE_DIR, else lambda-oci under the user cache directory).`,
		Example: `  lambda-oci convert layer.zip -o layer.tar.gz
  lambda-oci convert ./build/function --prefix ` + lambda.DefaultTaskRoot + ` -o code.tar.gz --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConvert(cmd, a, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "write the layer .tar.gz here (required)")
	fl.StringVar(&f.prefix, "prefix", layerconv.DefaultPrefix, "directory the entries are rooted at ("+lambda.OptDir+" for layers, "+lambda.DefaultTaskRoot+" for code)")
	fl.BoolVar(&f.json, "json", false, "print a JSON object instead of the digest")
	fl.BoolVar(&f.noPycRewrite, "no-pyc-rewrite", false, "leave .pyc files as they are (valid ones become stale in the layer)")
	f.cache.bind(fl)
	return cmd
}

func runConvert(cmd *cobra.Command, a *app, src string, f convertFlags) (err error) {
	if f.output == "" {
		return usage(fmt.Errorf("convert: %w", missingFlags("-o OUT.tar.gz")))
	}
	if !strings.HasPrefix(f.prefix, "/") {
		return usage(fmt.Errorf("convert: --prefix %q: want an absolute path such as %s or %s", f.prefix, lambda.OptDir, lambda.DefaultTaskRoot))
	}
	mtime, err := layerconv.ModTimeFromEnv(a.getenv)
	if err != nil {
		return err
	}
	cacheDir, err := f.cache.dir(a)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	res, err := layerconv.ConvertFile(ctx, src, f.output, layerconv.Options{Prefix: f.prefix, ModTime: mtime, CacheDir: cacheDir, NoPycRewrite: f.noPycRewrite})
	if err != nil {
		if ctx.Err() != nil {
			// Ctrl-C surfaces as "context canceled" from wherever the work was.
			return fmt.Errorf("convert: interrupted; %s not written", f.output)
		}
		return err
	}
	defer res.Close()
	if !f.json {
		_, err := fmt.Fprintln(a.stdout, res.Digest.String())
		return err
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(convertJSON{
		SchemaVersion:    schemaVersion,
		Digest:           res.Digest.String(),
		DiffID:           res.DiffID.String(),
		Size:             res.Size,
		UncompressedSize: res.UncompressedSize,
		Files:            res.Files,
		Dirs:             res.Dirs,
		Symlinks:         res.Symlinks,
		Dropped:          res.Dropped,
		Normalized:       res.Normalized,
		PycRewritten:     res.PycRewritten,
		CacheHit:         res.CacheHit,
		Output:           f.output,
	})
}
