package lambdaapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// LayerVersion describes one version of a layer without its zip.
type LayerVersion struct {
	// ARN is the layer version ARN.
	ARN     string `json:"arn"`
	Version int64  `json:"version"`
	// CreatedDate is Lambda's ISO 8601 timestamp of the version.
	CreatedDate string `json:"createdDate,omitempty"`
	// CodeSha256 and CodeSize are set by DescribeLayerVersion only:
	// ListLayerVersions does not report them.
	CodeSha256              string   `json:"codeSha256,omitempty"`
	CodeSize                int64    `json:"codeSize,omitempty"`
	CompatibleRuntimes      []string `json:"compatibleRuntimes,omitempty"`
	CompatibleArchitectures []string `json:"compatibleArchitectures,omitempty"`
}

// LayerARN returns the ARN of the layer itself (no version): what
// ListLayerVersions takes to list a layer of any account.
func (a LayerARN) LayerARN() string {
	return arn.ARN{Partition: a.Partition, Service: "lambda", Region: a.Region, AccountID: a.Account,
		Resource: "layer:" + a.Name}.String()
}

// maxListItems is the largest page ListLayerVersions serves (MaxItems 1-50).
const maxListItems = 50

// ListLayerVersions lists the versions of the layer that the layer version
// ARN layerVersionARN belongs to (its version only names the layer), newest
// first, through ListLayerVersions in the ARN's region, page after page.
// The layer is named by its ARN (LayerName accepts one). A layer of
// another account is listed only if its policy allows
// lambda:ListLayerVersions, which AddLayerVersionPermission cannot grant
// (only lambda:GetLayerVersion): expect ErrAccessDenied for those. Deleted
// versions are not listed: the list can be empty.
func ListLayerVersions(ctx context.Context, layerVersionARN string, opts Options) ([]LayerVersion, error) {
	parsed, err := ParseLayerARN(layerVersionARN)
	if err != nil {
		return nil, err
	}
	layer := parsed.LayerARN()
	client, _, err := newClient(ctx, opts, parsed.Region)
	if err != nil {
		return nil, err
	}
	var out []LayerVersion
	pages := lambda.NewListLayerVersionsPaginator(client, &lambda.ListLayerVersionsInput{
		LayerName: aws.String(layer), MaxItems: aws.Int32(maxListItems),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError("ListLayerVersions", "lambda:ListLayerVersions", layer, err)
		}
		for _, it := range page.LayerVersions {
			v := LayerVersion{ARN: aws.ToString(it.LayerVersionArn), Version: it.Version, CreatedDate: aws.ToString(it.CreatedDate)}
			for _, r := range it.CompatibleRuntimes {
				v.CompatibleRuntimes = append(v.CompatibleRuntimes, string(r))
			}
			for _, a := range it.CompatibleArchitectures {
				v.CompatibleArchitectures = append(v.CompatibleArchitectures, string(a))
			}
			// A version of another layer would be moved to by mistake:
			// trust only what parses as a version of this one.
			got, err := ParseLayerARN(v.ARN)
			if err != nil || got.LayerARN() != layer || got.Version != v.Version {
				return nil, fmt.Errorf("lambdaapi: ListLayerVersions %q: listed %q (version %d), not a version of this layer", layer, v.ARN, v.Version)
			}
			out = append(out, v)
		}
	}
	// Lambda lists newest first; the order is not part of its contract.
	slices.SortFunc(out, func(a, b LayerVersion) int { return cmp.Compare(b.Version, a.Version) })
	return out, nil
}

// LatestLayerVersion returns the newest version of the layer that
// layerVersionARN belongs to, described (CodeSha256 included) by
// DescribeLayerVersion. A layer with no version listed is ErrNotFound.
func LatestLayerVersion(ctx context.Context, layerVersionARN string, opts Options) (LayerVersion, error) {
	vs, err := ListLayerVersions(ctx, layerVersionARN, opts)
	if err != nil {
		return LayerVersion{}, err
	}
	if len(vs) == 0 {
		parsed, _ := ParseLayerARN(layerVersionARN)
		return LayerVersion{}, fmt.Errorf("lambdaapi: ListLayerVersions %q: no version listed (deleted, or the layer is not visible to the caller in that region): %w",
			parsed.LayerARN(), ErrNotFound)
	}
	return DescribeLayerVersion(ctx, vs[0].ARN, opts)
}

// DescribeLayerVersion reads a layer version's description through
// GetLayerVersionByArn, without downloading its zip.
func DescribeLayerVersion(ctx context.Context, layerVersionARN string, opts Options) (LayerVersion, error) {
	parsed, err := ParseLayerARN(layerVersionARN)
	if err != nil {
		return LayerVersion{}, err
	}
	client, _, err := newClient(ctx, opts, parsed.Region)
	if err != nil {
		return LayerVersion{}, err
	}
	v, _, err := describeLayerVersion(ctx, client, parsed.String())
	return v, err
}

// describeLayerVersion is GetLayerVersionByArn: the description and the
// presigned URL of the zip.
func describeLayerVersion(ctx context.Context, client *lambda.Client, arn string) (LayerVersion, string, error) {
	out, err := client.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: aws.String(arn)})
	if err != nil {
		return LayerVersion{}, "", apiError("GetLayerVersionByArn", "lambda:GetLayerVersion", arn, err)
	}
	if out.Content == nil || aws.ToString(out.Content.CodeSha256) == "" {
		return LayerVersion{}, "", fmt.Errorf("lambdaapi: GetLayerVersionByArn %q: the response has no Content.CodeSha256", arn)
	}
	v := LayerVersion{ARN: arn, Version: out.Version, CreatedDate: aws.ToString(out.CreatedDate),
		CodeSha256: aws.ToString(out.Content.CodeSha256), CodeSize: out.Content.CodeSize}
	for _, r := range out.CompatibleRuntimes {
		v.CompatibleRuntimes = append(v.CompatibleRuntimes, string(r))
	}
	for _, a := range out.CompatibleArchitectures {
		v.CompatibleArchitectures = append(v.CompatibleArchitectures, string(a))
	}
	return v, aws.ToString(out.Content.Location), nil
}
