// Example lucky: a result or an error, at random. Entry point index.Handler.
// Send anything; about half the time the answer is "Lucky one!", otherwise the error
// "not so lucky" (errorType UserCodeError: HTTP 502 with X-Function-Error: true).
package main

import (
	"errors"
	"math/rand"
	"time"
)

// Go 1.19's math/rand starts from the same seed in every process.
var dice = rand.New(rand.NewSource(time.Now().UnixNano()))

func Handler() (string, error) {
	if dice.Intn(2) == 0 {
		return "", errors.New("not so lucky")
	}
	return "Lucky one!", nil
}
