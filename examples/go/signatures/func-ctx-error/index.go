// Example signature func(context.Context) error: only the context. Entry point index.Handler.
// Send anything; the answer is null, and the log shows the request id and the time left.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func Handler(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return errors.New("the context has no deadline")
	}
	fmt.Printf("request %s, %s left\n", ctx.Value("lambdaRuntimeRequestID"), time.Until(deadline).Round(time.Second))
	return nil
}
