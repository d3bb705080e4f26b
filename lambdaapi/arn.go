package lambdaapi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
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
	return fmt.Sprintf("arn:%s:lambda:%s:%s:layer:%s:%d", a.Partition, a.Region, a.Account, a.Name, a.Version)
}

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
	parts := strings.Split(s, ":")
	if len(parts) < 7 || parts[0] != "arn" {
		return bad("not an ARN")
	}
	if parts[2] != "lambda" || parts[5] != "layer" {
		return bad("not a Lambda layer ARN")
	}
	if len(parts) == 7 {
		return bad("no version: name the layer version to use")
	}
	if len(parts) > 8 {
		return bad("too many fields")
	}
	a := LayerARN{Partition: parts[1], Region: parts[3], Account: parts[4], Name: parts[6]}
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
	v, err := strconv.ParseInt(parts[7], 10, 64)
	if err != nil || v < 1 || strconv.FormatInt(v, 10) != parts[7] {
		return bad(fmt.Sprintf("version %q is not a positive integer", parts[7]))
	}
	a.Version = v
	return a, nil
}

// functionRegion returns the region named by a function ARN
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), or "" for a
// plain name or a partial ARN (ACCOUNT:function:NAME), which use the
// configured region.
func functionRegion(nameOrARN string) string {
	parts := strings.Split(nameOrARN, ":")
	if len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
		return parts[3]
	}
	return ""
}
