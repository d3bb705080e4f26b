package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/config"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
)

func newUpdateCmd(a *app) *cobra.Command {
	var file string
	var layers bool
	var push pushFlags
	cmd := &cobra.Command{
		Use: "update [-f lambda-oci.yaml] [--layers] [NAME ...]",
		Example: `  lambda-oci update                  # every function of ./lambda-oci.yaml
  lambda-oci update --layers         # and each layer version ARN to its layer's newest version
  lambda-oci update -f fns/lambda-oci.yaml orders billing`,
		Short: "Re-resolve the base tags (and, with --layers, layer versions) of lambda-oci.yaml's functions and rewrite " + config.LockName,
		Long: `Resolve each function's base reference again (only manifests are fetched) and
record the digest it now points at for the function's architecture in
` + config.LockName + `, beside the file. With --layers, also move each layer
version ARN to the newest version of its layer (ListLayerVersions, then
GetLayerVersionByArn for its CodeSha256; nothing is downloaded): the lock
records the new version and "build -f" uses it while lambda-oci.yaml, which
is left as it is, still names the old one. stdout lists what changed, one
"NAME: ..." line per change. Functions not in the lock yet are added by the
next "build -f".`,
		RunE: func(cmd *cobra.Command, names []string) error {
			cf, err := config.Load(file, config.Options{Getenv: a.getenv})
			if err != nil {
				return err
			}
			fns, err := selectFunctions(cf, names)
			if err != nil {
				return err
			}
			lockPath := config.LockPath(file)
			lock, err := config.ReadLock(lockPath)
			if err != nil {
				return err
			}
			opts := build.Options{Getenv: a.getenv, Registry: push.options(a), Shared: build.NewShared()}
			defer opts.Shared.Close()
			changes := map[string][]string{}
			for _, fn := range fns {
				rb, err := build.ResolveBase(cmd.Context(), fn.Spec, opts)
				if err != nil {
					return fmt.Errorf("function %s: %w", fn.Name, err)
				}
				old, ok := lock.Functions[fn.Name]
				if !ok {
					logf(a, "%s: not in %s yet: build -f adds it", fn.Name, lockPath)
					continue
				}
				next := old
				next.Base, next.BaseDigest = cf.LockBase(rb.Ref), rb.Digest.String()
				for _, d := range old.Diff(next) {
					changes[fn.Name] = append(changes[fn.Name], fn.Name+": "+d)
				}
				lock.Functions[fn.Name] = next
			}
			if layers {
				lopts := lambdaapi.Options{}
				if push.verbose {
					lopts.Logf = func(format string, args ...any) { logf(a, format, args...) }
				}
				moves, denied, err := lock.UpdateLayers(cmd.Context(), fns, lopts)
				if err != nil {
					return err
				}
				for _, d := range denied {
					logf(a, "warning: %v; left at its version (a layer of another account can be shared only with lambda:GetLayerVersion, never ListLayerVersions: name the version you want in %s)", d, file)
				}
				for _, m := range moves {
					changes[m.Function] = append(changes[m.Function], m.String())
				}
			}
			lock.Prune(cf)
			if err := lock.Write(lockPath); err != nil {
				return err
			}
			var lines []string
			for _, fn := range fns {
				lines = append(lines, changes[fn.Name]...)
			}
			if len(lines) == 0 {
				logf(a, "%s is up to date", lockPath)
				return nil
			}
			_, err = fmt.Fprintln(a.stdout, strings.Join(lines, "\n"))
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&file, "file", "f", config.FileName, "the lambda-oci.yaml `FILE`")
	fs.BoolVar(&layers, "layers", false, "also move each layer version ARN to the newest version of its layer (in the lock; lambda-oci.yaml is left as it is)")
	fs.BoolVar(&push.verbose, "verbose", false, "log registry and AWS steps on stderr")
	fs.StringVar(&push.registryAuth, "registry-auth", "", `"ecr" forces ECR authentication for a base host that does not look like ECR`)
	fs.StringVar(&push.region, "region", "", "AWS region for ECR when the registry host does not name one (default: AWS_REGION)")
	return cmd
}
