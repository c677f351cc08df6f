// Example struct-event: the JSON body is decoded into a struct. Entry point index.Handler.
// Send {"key":"value"}; the answer is "hello, value!".
package main

import "fmt"

// Event is the request body.
type Event struct {
	Key string `json:"key"`
}

func Handler(event Event) (string, error) {
	return fmt.Sprintf("hello, %s!", event.Key), nil
}
