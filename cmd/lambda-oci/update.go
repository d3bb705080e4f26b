package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/config"
)

func newUpdateCmd(a *app) *cobra.Command {
	var file string
	var push pushFlags
	cmd := &cobra.Command{
		Use: "update [-f lambda-oci.yaml] [NAME ...]",
		Example: `  lambda-oci update                  # every function of ./lambda-oci.yaml
  lambda-oci update -f fns/lambda-oci.yaml orders billing`,
		Short: "Re-resolve the base tags of lambda-oci.yaml's functions and rewrite " + config.LockName,
		Long: `Resolve each function's base reference again (only manifests are fetched) and
record the digest it now points at for the function's architecture in
` + config.LockName + `, beside the file. stdout lists what changed, one
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
			var changes []string
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
					changes = append(changes, fn.Name+": "+d)
				}
				lock.Functions[fn.Name] = next
			}
			lock.Prune(cf)
			if err := lock.Write(lockPath); err != nil {
				return err
			}
			if len(changes) == 0 {
				logf(a, "%s is up to date", lockPath)
				return nil
			}
			_, err = fmt.Fprintln(a.stdout, strings.Join(changes, "\n"))
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&file, "file", "f", config.FileName, "the lambda-oci.yaml `FILE`")
	fs.BoolVar(&push.verbose, "verbose", false, "log registry and AWS steps on stderr")
	fs.StringVar(&push.registryAuth, "registry-auth", "", `"ecr" forces ECR authentication for a base host that does not look like ECR`)
	fs.StringVar(&push.region, "region", "", "AWS region for ECR when the registry host does not name one (default: AWS_REGION)")
	return cmd
}
