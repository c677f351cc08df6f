// Compiled once when the builder image is built: fills the build cache with the standard library
// and the Hearth SDK, so that a deploy-time compile only compiles the function itself.
package main

import hearth "hearth.dev/hearth"

func main() { hearth.Start(func() {}) }
