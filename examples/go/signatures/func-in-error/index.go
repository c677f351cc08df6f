// Example signature func(In) error: an input, only an error or nil. Entry point index.Handler.
// Send {"name":"Ann"}; the answer is null and the log says "hello, Ann".
// Send {"name":""}; the answer is the error "name is empty".
package main

import (
	"errors"
	"fmt"
)

type Input struct {
	Name string `json:"name"`
}

func Handler(input Input) error {
	if input.Name == "" {
		return errors.New("name is empty")
	}
	fmt.Printf("hello, %s\n", input.Name)
	return nil
}
