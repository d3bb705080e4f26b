//go:build tools

package tools

import (
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-containerregistry/pkg/v1/layout"
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/google/go-containerregistry/pkg/v1/mutate"
	_ "github.com/google/go-containerregistry/pkg/v1/validate"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/ecr"
	_ "github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	_ "github.com/aws/aws-sdk-go-v2/service/lambda"
	_ "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	_ "github.com/stretchr/testify/require"
	_ "github.com/spf13/cobra"
	_ "github.com/klauspost/compress/gzip"
	_ "github.com/klauspost/pgzip"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
)
