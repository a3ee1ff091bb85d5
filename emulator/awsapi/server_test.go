package awsapi

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestDescribeEndpoint(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	for _, typ := range []string{"iot:Data-ATS", "iot:Data", "iot:CredentialProvider", "iot:Jobs"} {
		t.Run(typ, func(t *testing.T) {
			out, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String(typ)})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := aws.ToString(out.EndpointAddress), "localhost"; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
	_, err := c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Nope")})
	var ire *types.InvalidRequestException
	if !errors.As(err, &ire) {
		t.Fatalf("bad endpoint type: got %v, want InvalidRequestException", err)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	e := newTestEnv(t)
	out, err := e.stsClient().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Account), "123456789012"; got != want {
		t.Fatalf("account: got %q, want %q", got, want)
	}
}

func TestUnknownOperationIsAWSShaped(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCode           string
	}{
		{"no route", "GET", "/no/such/thing/here", 404, "UnknownOperationException"},
		{"wrong method", "PATCH", "/endpoint", 405, "MethodNotAllowedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("x-amzn-ErrorType") != tt.wantCode {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(string(body), `"message"`) {
				t.Fatalf("body %s has no message", body)
			}
		})
	}
}

func TestSDKParsesErrorCode(t *testing.T) {
	e := newTestEnv(t)
	_, err := e.iotClient().DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("bad")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequestException" {
		t.Fatalf("got %v, want an APIError with code InvalidRequestException", err)
	}
}
