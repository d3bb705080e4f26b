package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/smithy-go"
	"github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"
)

// ecrPublicRegion is where the ECR Public API lives, whatever the caller's region.
const ecrPublicRegion = "us-east-1"

// ecrTarget says how a registry host is reached through AWS.
type ecrTarget struct {
	// public: public.ecr.aws (ECR Public token, anonymous fallback).
	public bool
	// Region and RegistryID (account, "" when the host does not say).
	Region, RegistryID string
}

// ecrTargetFor decides whether host is ECR: by its name (private,
// dual-stack, China and other partitions, via ecr-login's pattern), or
// because RegistryAuth forces it. ok is false for plain registries.
//
// RegistryAuth "ecr" applies to every other host the run talks to, base
// registry included: it is meant for an ECR (or stand-in) behind a custom
// name, with the base in the same registry, an OCI layout or public.ecr.aws.
func ecrTargetFor(host string, o Options) (t ecrTarget, ok bool, err error) {
	reg, perr := api.ExtractRegistry(host)
	// public.ecr.aws stays ECR Public even when RegistryAuth forces ECR for
	// the push target: a base pulled from it must not get a private token.
	if perr == nil && reg.Service == api.ServiceECRPublic {
		return ecrTarget{public: true, Region: ecrPublicRegion}, true, nil
	}
	if perr == nil && reg.Service == api.ServiceECR {
		return ecrTarget{Region: reg.Region, RegistryID: reg.ID}, true, nil
	}
	if o.RegistryAuth != AuthECR {
		return ecrTarget{}, false, nil
	}
	if o.Region == "" {
		return ecrTarget{}, false, fmt.Errorf("registry %s: ECR auth needs a region (the host does not name one); set --region or AWS_REGION", host)
	}
	return ecrTarget{Region: o.Region}, true, nil
}

// awsClients loads the SDK's default configuration (env, shared profile,
// SSO, web identity, endpoint settings such as AWS_ENDPOINT_URL_ECR) once
// per region for one run.
type awsClients struct {
	mu   sync.Mutex
	cfgs map[string]aws.Config
}

func (a *awsClients) config(ctx context.Context, region string) (aws.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cfg, ok := a.cfgs[region]; ok {
		return cfg, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	// Retrieve credentials up front so "none found" is reported as such
	// rather than as a failure deep inside the first API call.
	if cfg.Credentials == nil {
		return aws.Config{}, &Error{Kind: ErrNoCredentials, Op: "AWS credentials for region", Ref: region,
			Err: errors.New("no credential provider configured")}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, &Error{Kind: ErrNoCredentials, Op: "AWS credentials for region", Ref: region, Err: err}
	}
	if a.cfgs == nil {
		a.cfgs = map[string]aws.Config{}
	}
	a.cfgs[region] = cfg
	return cfg, nil
}

// ecrToken calls GetAuthorizationToken and returns the basic-auth pair.
func (a *awsClients) ecrToken(ctx context.Context, host string, t ecrTarget) (user, pass string, err error) {
	cfg, err := a.config(ctx, t.Region)
	if err != nil {
		return "", "", err
	}
	var token string
	if t.public {
		out, err := ecrpublic.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
		if err != nil {
			return "", "", classifyAWS("ECR Public GetAuthorizationToken for", host, err)
		}
		if out.AuthorizationData == nil {
			return "", "", fmt.Errorf("ECR Public GetAuthorizationToken for %s: no authorization data", host)
		}
		token = aws.ToString(out.AuthorizationData.AuthorizationToken)
	} else {
		in := &ecr.GetAuthorizationTokenInput{}
		out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(ctx, in)
		if err != nil {
			return "", "", classifyAWS("ECR GetAuthorizationToken for", host, err)
		}
		if len(out.AuthorizationData) == 0 {
			return "", "", fmt.Errorf("ECR GetAuthorizationToken for %s: no authorization data", host)
		}
		token = aws.ToString(out.AuthorizationData[0].AuthorizationToken)
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", "", fmt.Errorf("ECR token for %s: not base64", host)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("ECR token for %s: not USER:PASSWORD", host)
	}
	return user, pass, nil
}

// ensureRepository makes sure repo exists in the ECR registry, creating it
// when create is set. "Already exists" from a concurrent creator is success.
func (a *awsClients) ensureRepository(ctx context.Context, t ecrTarget, host, repo string, create bool, logf func(string, ...any)) error {
	cfg, err := a.config(ctx, t.Region)
	if err != nil {
		return err
	}
	cli := ecr.NewFromConfig(cfg)
	ref := host + "/" + repo
	var regID *string
	if t.RegistryID != "" {
		regID = aws.String(t.RegistryID)
	}
	_, err = cli.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}, RegistryId: regID})
	if err == nil {
		return nil
	}
	var nf *ecrtypes.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		cerr := classifyAWS("ECR DescribeRepositories", ref, err)
		if !errors.Is(cerr, ErrAccessDenied) {
			return cerr
		}
		// Push-only CI roles often lack ecr:DescribeRepositories. The
		// check is a courtesy: without it, create when asked (an existing
		// repository answers "already exists"), else let the registry
		// answer NAME_UNKNOWN for a missing one.
		if logf != nil {
			logf("cannot check repository %s (%v); continuing", ref, cerr)
		}
		if !create {
			return nil
		}
	} else if !create {
		return &Error{Kind: ErrRepositoryNotFound, Op: "pushing to", Ref: ref, Err: cleanAWS(err)}
	}
	_, err = cli.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo), RegistryId: regID})
	var exists *ecrtypes.RepositoryAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return classifyAWS("ECR CreateRepository", ref, err)
	}
	if err == nil && logf != nil {
		logf("created ECR repository %s", ref)
	}
	return nil
}

// classifyAWS maps AWS API error codes to our kinds, keeping the AWS
// message (which names the denied action, the expired token, ...).
func classifyAWS(op, ref string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		err = cleanAWS(err)
		switch ae.ErrorCode() {
		case "ExpiredTokenException", "ExpiredToken", "RequestExpired", "TokenRefreshRequired":
			return &Error{Kind: ErrExpiredCredentials, Op: op, Ref: ref, Err: err}
		case "AccessDeniedException", "AccessDenied":
			return &Error{Kind: ErrAccessDenied, Op: op, Ref: ref, Err: err}
		case "UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch":
			return &Error{Kind: ErrUnauthorized, Op: op, Ref: ref, Err: err}
		case "RepositoryNotFoundException":
			return &Error{Kind: ErrRepositoryNotFound, Op: op, Ref: ref, Err: err}
		}
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

// cleanAWS shortens an AWS API error to "Code: message", which reads
// better than the SDK's operation/request-id chain; the original stays
// reachable through Unwrap.
func cleanAWS(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &awsError{code: ae.ErrorCode(), msg: ae.ErrorMessage(), err: err}
	}
	return err
}

type awsError struct {
	code, msg string
	err       error
}

func (e *awsError) Error() string { return e.code + ": " + e.msg }
func (e *awsError) Unwrap() error { return e.err }
