// Command hello stands in for archiver in mkimage's test: a static binary
// that prints the version stamped with -X main.version.
package main

import "fmt"

var version = "dev"

func main() { fmt.Println("archiver", version) }
