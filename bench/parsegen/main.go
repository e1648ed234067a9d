// Command parsegen writes a pipeline file of a given shape and size to
// stdout, for bench/parse-cost.sh:
//
//	go run ./bench/parsegen -shape nested-flow -size 1048576 > f.yaml
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sluice-dev/sluice/internal/yamlgen"
)

func main() {
	shape := flag.String("shape", "honest", "the shape: "+strings.Join(yamlgen.Shapes(), ", "))
	size := flag.Int("size", 1<<20, "about how many bytes to write")
	list := flag.Bool("list", false, "print the shapes, one per line")
	flag.Parse()
	if *list {
		fmt.Println(strings.Join(yamlgen.Shapes(), "\n"))
		return
	}
	src, err := yamlgen.Generate(*shape, *size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parsegen:", err)
		os.Exit(2)
	}
	os.Stdout.Write(src)
}
