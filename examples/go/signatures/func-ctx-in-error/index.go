// Example signature func(context.Context, In) error: the context and an input. Entry point index.Handler.
// Send {"name":"Ann"}; the answer is null and the log says "request <id>: hello, Ann".
// Send {"name":""}; the answer is the error "request <id>: name is empty".
package main

import (
	"context"
	"fmt"
)

type Input struct {
	Name string `json:"name"`
}

func Handler(ctx context.Context, input Input) error {
	requestID := ctx.Value("lambdaRuntimeRequestID")
	if input.Name == "" {
		return fmt.Errorf("request %s: name is empty", requestID)
	}
	fmt.Printf("request %s: hello, %s\n", requestID, input.Name)
	return nil
}
