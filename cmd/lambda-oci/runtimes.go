package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// runtimesJSON is `runtimes --json`: an object, like every command's
// JSON, so that it carries its schemaVersion.
type runtimesJSON struct {
	SchemaVersion int           `json:"schemaVersion"`
	Runtimes      []runtimeJSON `json:"runtimes"`
}

// runtimeJSON is one row of `runtimes --json`.
type runtimeJSON struct {
	ID          string            `json:"id"`
	Image       string            `json:"image,omitempty"`
	ArchImages  map[string]string `json:"archImages,omitempty"`
	OS          string            `json:"os,omitempty"`
	Family      string            `json:"family"`
	Deprecated  bool              `json:"deprecated"`
	Replacement string            `json:"replacement,omitempty"`
	Note        string            `json:"note,omitempty"`
}

func newRuntimesCmd(a *app) *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "runtimes",
		Short: "List the Lambda runtime ids --runtime accepts and their AWS base images",
		Long: `List the Lambda runtime ids --runtime accepts and the AWS base image each maps
to. Builds use the per-architecture tag (IMAGE-x86_64 or IMAGE-arm64). With --all,
deprecated ids are listed too, with the runtime to move to.`,
		Example: `  lambda-oci runtimes
  lambda-oci runtimes --all --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []runtimeJSON
			for _, r := range lambda.Runtimes() {
				if r.Deprecated() && !all {
					continue
				}
				row := runtimeJSON{ID: r.ID, Image: r.Image, OS: r.OS, Family: string(r.Family),
					Deprecated: r.Deprecated(), Replacement: r.Replacement, Note: r.Note}
				if !r.Deprecated() {
					row.ArchImages = map[string]string{}
					for _, arch := range lambda.Archs() {
						row.ArchImages[string(arch)] = r.BaseRef(arch)
					}
				}
				rows = append(rows, row)
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(runtimesJSON{SchemaVersion: schemaVersion, Runtimes: rows})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUNTIME\tIMAGE\tOS\tFAMILY")
			for _, r := range rows {
				if r.Deprecated {
					fmt.Fprintf(tw, "%s\tdeprecated: use %s (%s)\t\t%s\n", r.ID, r.Replacement, r.Note, r.Family)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Image, r.OS, r.Family)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (schemaVersion, runtimes[]) instead of a table")
	cmd.Flags().BoolVar(&all, "all", false, "include deprecated runtime ids and their replacements")
	return cmd
}
