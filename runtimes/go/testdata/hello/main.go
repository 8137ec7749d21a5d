package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type Response struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

func handler(ctx context.Context, event map[string]any) (Response, error) {
	name := "world"
	if n, ok := event["name"].(string); ok && n != "" {
		name = n
	}
	lc, _ := lambdacontext.FromContext(ctx)
	requestID := ""
	if lc != nil {
		requestID = lc.AwsRequestID
	}
	return Response{StatusCode: 200, Body: fmt.Sprintf("Hello from Go, %s! (request %s)", name, requestID)}, nil
}

func main() {
	lambda.Start(handler)
}
