// Example http-request: a request struct in, a response struct out. Entry point index.Handler.
// Send {"message":"Hello, world","number":24}; the answer has statusCode 200 and the request, decoded
// and encoded again, as its body: {"statusCode":200,"body":{"message":"Hello, world","number":24}}.
package main

import (
	"context"
	"fmt"
)

type Request struct {
	Message string `json:"message"`
	Number  int    `json:"number"`
}

type Response struct {
	StatusCode int         `json:"statusCode"`
	Body       interface{} `json:"body"`
}

func Handler(ctx context.Context, request *Request) (*Response, error) {
	// Goes to the function's log.
	fmt.Printf("request %v: %+v\n", ctx.Value("lambdaRuntimeRequestID"), request)
	return &Response{StatusCode: 200, Body: request}, nil
}
