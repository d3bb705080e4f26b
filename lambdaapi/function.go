package lambdaapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Function is a zip function as deployed, with its code downloaded and
// verified.
type Function struct {
	// Name and ARN identify the function; Version is the resolved version
	// ("$LATEST" or a number) of the qualifier asked for.
	Name    string
	ARN     string
	Version string
	// Region is where the function lives (where its replacement must live
	// too: Lambda pulls images from ECR in the function's region).
	Region      string
	Runtime     string
	Handler     string
	PackageType string
	// Architectures is never empty: Lambda's default, x86_64, when unset.
	Architectures []string
	// Layers are the layer version ARNs in their configured order (the
	// order Lambda extracts them into /opt).
	Layers []string
	// Environment holds the function's environment variables (often
	// secrets: keep them out of images unless asked).
	Environment map[string]string
	// CodePath is the verified code zip; CodeSha256/CodeSize as Lambda reports.
	CodePath   string
	CodeSha256 string
	CodeSize   int64
	// Tags are the function's tags.
	Tags map[string]string
	// Configuration is the full configuration, for emitting the replacement.
	Configuration *types.FunctionConfiguration

	st *store
}

// Cleanup removes the downloaded code when it lives in a temporary directory
// (no CacheDir).
func (f *Function) Cleanup() {
	if f != nil && f.st != nil {
		f.st.discard()
	}
}

// GetFunction reads a function's configuration (GetFunction) and downloads
// its code from Code.Location, verified against CodeSha256 and CodeSize. A
// function whose PackageType is not Zip is refused with ErrNotZipFunction:
// it already runs from an image, and Lambda keeps no zip to convert.
// qualifier (a version or alias) may be empty for $LATEST.
func GetFunction(ctx context.Context, nameOrARN, qualifier string, opts Options) (*Function, error) {
	client, region, err := newClient(ctx, opts, functionRegion(nameOrARN))
	if err != nil {
		return nil, err
	}
	subject := nameOrARN
	if qualifier != "" {
		subject += ":" + qualifier
	}
	in := &lambda.GetFunctionInput{FunctionName: aws.String(nameOrARN)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := client.GetFunction(ctx, in)
	if err != nil {
		return nil, apiError("GetFunction", "lambda:GetFunction", subject, err)
	}
	c := out.Configuration
	if c == nil {
		return nil, fmt.Errorf("lambdaapi: GetFunction %q: the response has no Configuration", subject)
	}
	fn := &Function{
		Name:          aws.ToString(c.FunctionName),
		ARN:           aws.ToString(c.FunctionArn),
		Version:       aws.ToString(c.Version),
		Region:        region,
		Runtime:       string(c.Runtime),
		Handler:       aws.ToString(c.Handler),
		PackageType:   string(c.PackageType),
		CodeSha256:    aws.ToString(c.CodeSha256),
		CodeSize:      c.CodeSize,
		Tags:          out.Tags,
		Configuration: c,
	}
	if fn.PackageType == "" {
		// Functions created before image support report no PackageType.
		fn.PackageType = string(types.PackageTypeZip)
	}
	if fn.PackageType != string(types.PackageTypeZip) {
		image := ""
		if out.Code != nil && out.Code.ImageUri != nil {
			image = " (" + *out.Code.ImageUri + ")"
		}
		return nil, fmt.Errorf("lambdaapi: function %q is %w: PackageType %s%s; it already runs from a container image, and conversion takes zip functions only",
			subject, ErrNotZipFunction, fn.PackageType, image)
	}
	for _, a := range c.Architectures {
		fn.Architectures = append(fn.Architectures, string(a))
	}
	if len(fn.Architectures) == 0 {
		fn.Architectures = []string{string(types.ArchitectureX8664)}
	}
	for _, l := range c.Layers {
		fn.Layers = append(fn.Layers, aws.ToString(l.Arn))
	}
	if c.Environment != nil {
		fn.Environment = c.Environment.Variables
	}
	if fn.CodeSha256 == "" {
		return nil, fmt.Errorf("lambdaapi: GetFunction %q: the response has no CodeSha256", subject)
	}
	if out.Code == nil || aws.ToString(out.Code.Location) == "" {
		return nil, fmt.Errorf("lambdaapi: GetFunction %q: the response has no Code.Location (is the code stored somewhere Lambda cannot hand out?)", subject)
	}

	st, err := openStore(opts)
	if err != nil {
		return nil, err
	}
	fn.CodePath, _, err = st.fetchZip(ctx, opts, "code of function "+subject, aws.ToString(out.Code.Location), fn.CodeSha256, fn.CodeSize)
	if err != nil {
		st.discard()
		return nil, err
	}
	if st.temporary {
		fn.st = st
	}
	return fn, nil
}
