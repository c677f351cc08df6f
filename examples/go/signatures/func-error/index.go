// Example signature func() error: no input, only an error or nil. Entry point index.Handler.
// Send anything; the answer is null, and the function's log says it was called.
package main

import "fmt"

func Handler() error {
	fmt.Println("func() error called")
	return nil
}
