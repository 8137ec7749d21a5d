// A handler that sleeps for event.ms milliseconds and says which process and
// request it ran in, for the concurrency test.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type Event struct {
	Ms int `json:"ms"`
}

type Response struct {
	Pid       int    `json:"pid"`
	RequestID string `json:"requestId"`
}

func handler(ctx context.Context, event Event) (Response, error) {
	time.Sleep(time.Duration(event.Ms) * time.Millisecond)
	r := Response{Pid: os.Getpid()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID = lc.AwsRequestID
	}
	return r, nil
}

func main() {
	lambda.Start(handler)
}
