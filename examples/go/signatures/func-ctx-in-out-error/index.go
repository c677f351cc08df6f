// Example signature func(context.Context, In) (Out, error): the context, an input and a result.
// Entry point index.Handler. Send {"name":"Ann"}; the answer is {"requestId":"…","received":{"name":"Ann"}}.
package main

import "context"

type Input struct {
	Name string `json:"name"`
}

type Output struct {
	RequestID string `json:"requestId"`
	Received  Input  `json:"received"`
}

func Handler(ctx context.Context, input Input) (Output, error) {
	requestID, _ := ctx.Value("lambdaRuntimeRequestID").(string)
	return Output{RequestID: requestID, Received: input}, nil
}
