package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// CreateFunctionRequest is the CreateFunction input for the image function
// that replaces a zip function. It marshals to exactly the JSON that
// `aws lambda create-function --cli-input-json file://FILE` takes (the API's
// member names), and converts to the SDK input with SDKInput. Handler,
// Runtime and Layers are absent by construction: image functions refuse them.
type CreateFunctionRequest struct {
	FunctionName      string             `json:"FunctionName"`
	PackageType       string             `json:"PackageType"`
	Code              ImageCode          `json:"Code"`
	Role              string             `json:"Role"`
	Description       string             `json:"Description,omitempty"`
	MemorySize        *int32             `json:"MemorySize,omitempty"`
	Timeout           *int32             `json:"Timeout,omitempty"`
	EphemeralStorage  *EphemeralStorage  `json:"EphemeralStorage,omitempty"`
	Architectures     []string           `json:"Architectures,omitempty"`
	Environment       *Environment       `json:"Environment,omitempty"`
	VpcConfig         *VpcConfig         `json:"VpcConfig,omitempty"`
	TracingConfig     *TracingConfig     `json:"TracingConfig,omitempty"`
	LoggingConfig     *LoggingConfig     `json:"LoggingConfig,omitempty"`
	DeadLetterConfig  *DeadLetterConfig  `json:"DeadLetterConfig,omitempty"`
	FileSystemConfigs []FileSystemConfig `json:"FileSystemConfigs,omitempty"`
	KMSKeyArn         string             `json:"KMSKeyArn,omitempty"`
	Tags              map[string]string  `json:"Tags,omitempty"`
}

// ImageCode is CreateFunction's Code for an image function.
type ImageCode struct {
	ImageUri string `json:"ImageUri"`
}

type EphemeralStorage struct {
	Size int32 `json:"Size"`
}

type Environment struct {
	Variables map[string]string `json:"Variables"`
}

type VpcConfig struct {
	SubnetIds               []string `json:"SubnetIds"`
	SecurityGroupIds        []string `json:"SecurityGroupIds"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitempty"`
}

type TracingConfig struct {
	Mode string `json:"Mode"`
}

type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn"`
}

type FileSystemConfig struct {
	Arn            string `json:"Arn"`
	LocalMountPath string `json:"LocalMountPath"`
}

// CreateFunctionInput derives the replacement's CreateFunction input from a
// zip function: image imageURI (by digest), named newName, with the old
// function's role, memory, timeout, ephemeral storage, architectures,
// environment (unless includeEnvInImage: then the variables live in the image
// and are not repeated), VPC, tracing, logging, dead-letter, file-system,
// KMS key, description and tags.
//
// Left out on purpose: Handler, Runtime, Layers (refused for images),
// SnapStart and code signing (not supported for images), the default log group
// /aws/lambda/OLD (the new function gets its own), and tags with the
// reserved "aws:" prefix (CreateFunction refuses them).
func CreateFunctionInput(fn *Function, newName, imageURI string, includeEnvInImage bool) *CreateFunctionRequest {
	c := fn.Configuration
	if c == nil {
		c = &types.FunctionConfiguration{}
	}
	r := &CreateFunctionRequest{
		FunctionName:  newName,
		PackageType:   string(types.PackageTypeImage),
		Code:          ImageCode{ImageUri: imageURI},
		Role:          aws.ToString(c.Role),
		Description:   aws.ToString(c.Description),
		MemorySize:    c.MemorySize,
		Timeout:       c.Timeout,
		Architectures: append([]string(nil), fn.Architectures...),
		KMSKeyArn:     aws.ToString(c.KMSKeyArn),
	}
	if c.EphemeralStorage != nil && c.EphemeralStorage.Size != nil {
		r.EphemeralStorage = &EphemeralStorage{Size: *c.EphemeralStorage.Size}
	}
	if !includeEnvInImage && len(fn.Environment) > 0 {
		r.Environment = &Environment{Variables: maps.Clone(fn.Environment)}
	}
	if v := c.VpcConfig; v != nil && len(v.SubnetIds) > 0 {
		r.VpcConfig = &VpcConfig{SubnetIds: v.SubnetIds, SecurityGroupIds: v.SecurityGroupIds, Ipv6AllowedForDualStack: v.Ipv6AllowedForDualStack}
	}
	if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
		r.TracingConfig = &TracingConfig{Mode: string(c.TracingConfig.Mode)}
	}
	if l := c.LoggingConfig; l != nil {
		lc := LoggingConfig{LogFormat: string(l.LogFormat), ApplicationLogLevel: string(l.ApplicationLogLevel),
			SystemLogLevel: string(l.SystemLogLevel), LogGroup: aws.ToString(l.LogGroup)}
		if lc.LogGroup == "/aws/lambda/"+fn.Name {
			lc.LogGroup = ""
		}
		if lc != (LoggingConfig{}) {
			r.LoggingConfig = &lc
		}
	}
	if c.DeadLetterConfig != nil && aws.ToString(c.DeadLetterConfig.TargetArn) != "" {
		r.DeadLetterConfig = &DeadLetterConfig{TargetArn: *c.DeadLetterConfig.TargetArn}
	}
	for _, f := range c.FileSystemConfigs {
		r.FileSystemConfigs = append(r.FileSystemConfigs, FileSystemConfig{Arn: aws.ToString(f.Arn), LocalMountPath: aws.ToString(f.LocalMountPath)})
	}
	for k, v := range fn.Tags {
		if strings.HasPrefix(k, "aws:") {
			continue
		}
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		r.Tags[k] = v
	}
	return r
}

// SDKInput converts the request to the SDK's input type.
func (r *CreateFunctionRequest) SDKInput() *lambda.CreateFunctionInput {
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(r.FunctionName),
		PackageType:  types.PackageType(r.PackageType),
		Code:         &types.FunctionCode{ImageUri: aws.String(r.Code.ImageUri)},
		Role:         aws.String(r.Role),
		MemorySize:   r.MemorySize,
		Timeout:      r.Timeout,
		Tags:         r.Tags,
	}
	if r.Description != "" {
		in.Description = aws.String(r.Description)
	}
	if r.KMSKeyArn != "" {
		in.KMSKeyArn = aws.String(r.KMSKeyArn)
	}
	for _, a := range r.Architectures {
		in.Architectures = append(in.Architectures, types.Architecture(a))
	}
	if r.EphemeralStorage != nil {
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(r.EphemeralStorage.Size)}
	}
	if r.Environment != nil {
		in.Environment = &types.Environment{Variables: r.Environment.Variables}
	}
	if r.VpcConfig != nil {
		in.VpcConfig = &types.VpcConfig{SubnetIds: r.VpcConfig.SubnetIds, SecurityGroupIds: r.VpcConfig.SecurityGroupIds,
			Ipv6AllowedForDualStack: r.VpcConfig.Ipv6AllowedForDualStack}
	}
	if r.TracingConfig != nil {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingMode(r.TracingConfig.Mode)}
	}
	if l := r.LoggingConfig; l != nil {
		in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormat(l.LogFormat),
			ApplicationLogLevel: types.ApplicationLogLevel(l.ApplicationLogLevel), SystemLogLevel: types.SystemLogLevel(l.SystemLogLevel)}
		if l.LogGroup != "" {
			in.LoggingConfig.LogGroup = aws.String(l.LogGroup)
		}
	}
	if r.DeadLetterConfig != nil {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(r.DeadLetterConfig.TargetArn)}
	}
	for _, f := range r.FileSystemConfigs {
		in.FileSystemConfigs = append(in.FileSystemConfigs, types.FileSystemConfig{Arn: aws.String(f.Arn), LocalMountPath: aws.String(f.LocalMountPath)})
	}
	return in
}

// WriteFunctionConfig writes the request as indented JSON to path (through a
// temporary file and a rename), readable by the owner only: it carries the
// function's environment variables.
func (r *CreateFunctionRequest) WriteFunctionConfig(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("lambdaapi: function config %q: %w", path, err)
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("lambdaapi: writing function config %q: %w", filepath.Clean(path), err)
	}
	return nil
}

// CreatedFunction is the state of a function CreateFunction made.
type CreatedFunction struct {
	Name            string `json:"functionName"`
	ARN             string `json:"functionArn"`
	State           string `json:"state"`
	StateReasonCode string `json:"stateReasonCode,omitempty"`
	StateReason     string `json:"stateReason,omitempty"`
}

// CreateFunction creates the function and waits, through the Lambda
// client's FunctionActiveV2 waiter (GetFunction every Options.PollInterval
// for at most Options.WaitTimeout), until its State is Active. A Failed
// state is an error (ErrFunctionFailed) carrying Lambda's StateReasonCode
// and StateReason.
func CreateFunction(ctx context.Context, req *CreateFunctionRequest, opts Options) (*CreatedFunction, error) {
	client, _, err := newClient(ctx, opts, functionRegion(req.FunctionName))
	if err != nil {
		return nil, err
	}
	out, err := client.CreateFunction(ctx, req.SDKInput())
	if err != nil {
		return nil, apiError("CreateFunction", "lambda:CreateFunction (and iam:PassRole on the role)", req.FunctionName, err)
	}
	fn := &CreatedFunction{Name: aws.ToString(out.FunctionName), ARN: aws.ToString(out.FunctionArn), State: string(out.State),
		StateReasonCode: string(out.StateReasonCode), StateReason: aws.ToString(out.StateReason)}
	// The final state is the caller's to report (it is in the result);
	// the log says only what is still awaited, so "Active" is said once.
	if types.State(fn.State) != types.StateActive {
		opts.logf("function %s created (%s); waiting until Lambda has finished creating it", fn.ARN, fn.State)
	}
	return fn, waitActive(ctx, client, req.FunctionName, fn, opts)
}

// waitActive waits for the function to become Active, keeping fn's state
// current with every answer the waiter sees.
func waitActive(ctx context.Context, client lambda.GetFunctionAPIClient, name string, fn *CreatedFunction, opts Options) error {
	switch types.State(fn.State) {
	case types.StateActive:
		return nil
	case types.StateFailed:
		return functionFailed(name, fn)
	}
	// The waiter only says that it stopped; wrapping its Retryable keeps
	// what each GetFunction answered, so a Failed state is reported with
	// the reason from the very answer that ended the wait (no second call
	// that could see a different state), and each poll is logged.
	var pollErr error
	waiter := lambda.NewFunctionActiveV2Waiter(client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		// A fixed pause, as Options.PollInterval promises, rather than the
		// waiter's default backoff of up to 300s: creation takes seconds to
		// minutes, and a 5-minute pause would overshoot it by as much.
		o.MinDelay, o.MaxDelay = opts.pollInterval(), opts.pollInterval()
		modelled := o.Retryable
		o.Retryable = func(ctx context.Context, in *lambda.GetFunctionInput, out *lambda.GetFunctionOutput, err error) (bool, error) {
			pollErr = err
			if err == nil && out.Configuration != nil {
				c := out.Configuration
				fn.State, fn.StateReasonCode, fn.StateReason = string(c.State), string(c.StateReasonCode), aws.ToString(c.StateReason)
				if c.State != types.StateActive {
					opts.logf("function %s: %s", fn.ARN, fn.State)
				}
			}
			return modelled(ctx, in, out, err)
		}
	})
	err := waiter.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, opts.waitTimeout())
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("lambdaapi: waiting for function %q: %w", name, ctx.Err())
	case types.State(fn.State) == types.StateFailed:
		return functionFailed(name, fn)
	case pollErr != nil && !errors.Is(pollErr, context.DeadlineExceeded):
		// A deadline here is the waiter's own WaitTimeout cutting a call
		// short: a timeout, reported below, not a failed call.
		return apiError("GetFunction", "lambda:GetFunction", name, pollErr)
	}
	return fmt.Errorf("lambdaapi: function %q: still %s after %s (%s %s)", name, fn.State, opts.waitTimeout(), fn.StateReasonCode, fn.StateReason)
}

func functionFailed(name string, fn *CreatedFunction) error {
	return fmt.Errorf("lambdaapi: function %q %w: State Failed, %s: %s", name, ErrFunctionFailed, fn.StateReasonCode, fn.StateReason)
}
