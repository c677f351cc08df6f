// Example signature func(context.Context) (Out, error): the context and a result. Entry point index.Handler.
// Send anything; the answer shows what the context holds:
// {"requestId":"…","functionName":"…","functionVersion":"…","memoryLimitMb":256,"hasDeadline":true}.
package main

import (
	"context"

	"hearth.dev/hearth"
)

type Output struct {
	RequestID       string `json:"requestId"`
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	MemoryLimitMB   int    `json:"memoryLimitMb"`
	HasDeadline     bool   `json:"hasDeadline"`
}

func Handler(ctx context.Context) (Output, error) {
	// The same values as ctx.Value("lambdaRuntimeRequestID") etc., typed.
	info, _ := hearth.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	return Output{
		RequestID:       info.RequestID,
		FunctionName:    info.FunctionName,
		FunctionVersion: info.FunctionVersion,
		MemoryLimitMB:   info.MemoryLimitMB,
		HasDeadline:     hasDeadline,
	}, nil
}
