package fakeecr

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func client(s *Server, key, secret string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.API.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
}

func TestSignedRequestsOnly(t *testing.T) {
	s := Start(t, Options{Upstream: "http://127.0.0.1:1", Password: "pw"})
	ctx := context.Background()

	out, err := client(s, AccessKeyID, SecretAccessKey).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	require.NoError(t, err)
	require.Len(t, out.AuthorizationData, 1)
	assert.Equal(t, s.Token(), aws.ToString(out.AuthorizationData[0].AuthorizationToken))

	_, err = client(s, AccessKeyID, "forged").GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	assert.ErrorContains(t, err, "InvalidSignatureException")
	_, err = client(s, "AKIDOTHER", SecretAccessKey).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	assert.ErrorContains(t, err, "UnrecognizedClientException")

	req, err := http.NewRequest(http.MethodPost, s.API.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", targetPrefix+"GetAuthorizationToken")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "MissingAuthenticationTokenException", body["__type"])

	assert.Equal(t, 3, s.BadSignatures())
	assert.Equal(t, []string{"GetAuthorizationToken"}, s.Calls(), "refused requests are not served")
}

func TestRepositories(t *testing.T) {
	s := Start(t, Options{Upstream: "http://127.0.0.1:1", Password: "pw"})
	ctx := context.Background()
	c := client(s, AccessKeyID, SecretAccessKey)
	_, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"fn"}})
	assert.ErrorContains(t, err, "RepositoryNotFoundException")
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("fn"), ImageTagMutability: "IMMUTABLE"})
	require.NoError(t, err)
	out, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"fn"}})
	require.NoError(t, err)
	require.Len(t, out.Repositories, 1)
	assert.Equal(t, "IMMUTABLE", string(out.Repositories[0].ImageTagMutability))
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("fn")})
	assert.ErrorContains(t, err, "RepositoryAlreadyExistsException")

	s.Fail("DescribeRepositories", AccessDenied("DescribeRepositories"))
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"fn"}})
	assert.ErrorContains(t, err, "not authorized to perform: ecr:DescribeRepositories")
	s.Clear()
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"fn"}})
	assert.NoError(t, err)
}
