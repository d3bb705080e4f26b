package lambdaapi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// LayerARN is a parsed layer version ARN:
// arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION.
type LayerARN struct {
	Partition string
	Region    string
	Account   string
	Name      string
	Version   int64
}

// String returns the canonical ARN.
func (a LayerARN) String() string {
	return arn.ARN{Partition: a.Partition, Service: "lambda", Region: a.Region, AccountID: a.Account,
		Resource: fmt.Sprintf("layer:%s:%d", a.Name, a.Version)}.String()
}

// The generic ARN parser accepts any text in each field; these are what
// Lambda's API model accepts in a layer version ARN, checked here so a typo
// is reported before a request is signed for a region that does not exist.
var (
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2,}(-[a-z]+)+-\d+$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	layerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,140}$`)
)

// IsLayerARN reports whether s is a well-formed layer version ARN.
// Callers that accept "a path or an ARN" should treat anything starting with
// "arn:" as an ARN and let ParseLayerARN explain what is wrong with it,
// rather than reporting a missing file.
func IsLayerARN(s string) bool {
	_, err := ParseLayerARN(s)
	return err == nil
}

// ParseLayerARN parses a layer version ARN. A layer ARN without a version is
// refused: only versions are immutable, and only versions can be fetched.
func ParseLayerARN(s string) (LayerARN, error) {
	bad := func(why string) (LayerARN, error) {
		return LayerARN{}, fmt.Errorf("lambdaapi: layer ARN %q: %s (want arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)", s, why)
	}
	parsed, err := arn.Parse(s)
	if err != nil {
		return bad("not an ARN")
	}
	// The resource of a layer version is layer:NAME:VERSION.
	res := strings.Split(parsed.Resource, ":")
	if parsed.Service != "lambda" || res[0] != "layer" || len(res) < 2 {
		return bad("not a Lambda layer ARN")
	}
	if len(res) == 2 {
		return bad("no version: name the layer version to use")
	}
	if len(res) > 3 {
		return bad("too many fields")
	}
	a := LayerARN{Partition: parsed.Partition, Region: parsed.Region, Account: parsed.AccountID, Name: res[1]}
	switch {
	case !partitionRE.MatchString(a.Partition):
		return bad(fmt.Sprintf("partition %q is not valid", a.Partition))
	case !regionRE.MatchString(a.Region):
		return bad(fmt.Sprintf("region %q is not valid", a.Region))
	case !accountRE.MatchString(a.Account):
		return bad(fmt.Sprintf("account %q is not 12 digits", a.Account))
	case !layerNameRE.MatchString(a.Name):
		return bad(fmt.Sprintf("layer name %q is not valid", a.Name))
	}
	// Only the canonical decimal form: "03" or "+3" would name the same
	// version under a different cache key.
	v, err := strconv.ParseInt(res[2], 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != res[2] {
		return bad(fmt.Sprintf("version %q is not a positive integer", res[2]))
	}
	a.Version = v
	return a, nil
}

// functionRegion returns the region named by a function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), or "" for a
// plain name or a partial ARN (ACCOUNT:function:NAME), which use the
// configured region.
func functionRegion(nameOrARN string) string {
	a, err := arn.Parse(nameOrARN)
	if err != nil || a.Service != "lambda" || !strings.HasPrefix(a.Resource, "function:") {
		return ""
	}
	return a.Region
}
