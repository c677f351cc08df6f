// Example signature func(): no input, no result. Entry point index.Handler.
// Send anything; the answer is null, and the function's log says it was called.
package main

import "fmt"

func Handler() {
	fmt.Println("func() called")
}
