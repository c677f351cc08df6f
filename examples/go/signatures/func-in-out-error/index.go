// Example signature func(In) (Out, error): an input and a result. Entry point index.Handler.
// Send {"name":"Ann"}; the answer is {"received":{"name":"Ann"}}.
package main

type Input struct {
	Name string `json:"name"`
}

type Output struct {
	Received Input `json:"received"`
}

func Handler(input Input) (Output, error) {
	return Output{Received: input}, nil
}
