// Example signature func() (Out, error): no input, a result. Entry point index.Handler.
// Send anything; the answer is {"received":"nothing"}.
package main

type Output struct {
	Received string `json:"received"`
}

func Handler() (Output, error) {
	return Output{Received: "nothing"}, nil
}
