package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// samePieceWise parses src whole and with its tasks in pieces of size
// bytes, fails the test when the two differ, and reports whether the
// pieces were used to the end (not given up for a whole read).
func samePieceWise(t *testing.T, name string, src []byte, size int) bool {
	t.Helper()
	whole, werr := parse(name, src, -1, 0)
	inPieces, perr := parse(name, src, 0, size)
	if fmt.Sprint(werr) != fmt.Sprint(perr) {
		t.Fatalf("%s, pieces of %d bytes: errors differ:\nwhole:\n%v\nin pieces:\n%v", name, size, werr, perr)
	}
	p := &parser{file: name, piecewise: 0, pieceSize: size}
	p.parse(src)
	inPiecesToTheEnd := p.pieces != nil && !p.wholeAgain
	if werr != nil {
		return inPiecesToTheEnd
	}
	if !bytes.Equal(whole.Normalized(), inPieces.Normalized()) {
		t.Fatalf("%s, pieces of %d bytes: normalized forms differ:\nwhole:\n%s\nin pieces:\n%s", name, size, whole.Normalized(), inPieces.Normalized())
	}
	if !reflect.DeepEqual(whole.Warnings, inPieces.Warnings) {
		t.Fatalf("%s, pieces of %d bytes: warnings differ:\nwhole: %v\nin pieces: %v", name, size, whole.Warnings, inPieces.Warnings)
	}
	return inPiecesToTheEnd
}

// TestPiecesReadAsWhole reads every test and example file with its tasks in
// pieces (one task a piece, and a few tasks a piece) and checks that the
// result, errors and warnings are those of the whole read.
func TestPiecesReadAsWhole(t *testing.T) {
	t.Parallel()
	var paths []string
	for _, glob := range []string{"testdata/*/*.yaml", "../examples/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 80 {
		t.Fatalf("found %d files, want the testdata and the examples", len(paths))
	}
	used := 0
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 200} {
			if samePieceWise(t, path, src, size) && size == 1 {
				used++
			}
		}
	}
	t.Logf("%d of %d files read in pieces", used, len(paths))
	// Most valid files have a plain tasks: block.
	if used < 30 {
		t.Fatalf("only %d of %d files were read in pieces", used, len(paths))
	}
}

// TestPiecesShapes covers blocks that are cut, and blocks that must be
// read whole, one by one.
func TestPiecesShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		pieces bool // read in pieces to the end
	}{
		{"plain", "id: p\ntasks:\n  a: {run: x}\n  b:\n    run: y\n    depends_on: a\n", true},
		{"comment after tasks", "id: p\ntasks: # the tasks\n  a: {run: x}\n  b: {run: y}\nschedule: '@daily'\n", true},
		{"comments and blank lines", "id: p\ntasks:\n\n# one\n  a: {run: x}\n    # two\n\n  b: {run: y}\n", true},
		{"crlf", "id: p\r\ntasks:\r\n  a: {run: x}\r\n  b:\r\n    run: |\r\n      y\r\n", true},
		{"block scalar kept", "id: p\ntasks:\n  a:\n    run: |+\n      x\n\n\n  b: {run: y}\n", true},
		{"list at key indent", "id: p\ntasks:\n  a:\n    run: x\n    depends_on:\n    - b\n  b: {run: y}\n", true},
		{"keys after tasks", "id: p\ntasks:\n  a: {run: x}\ndefaults: {retries: 2}\n", true},
		{"warning", "id: p\ntasks:\n  a: {run: x}\n  b: {run: 'echo {{ ds }}'}\n", true},
		{"tag on a line of its own", "id: p\ntasks:\n  !t\n   a: {run: x}\n  b: {run: y}\n", false},
		{"bare tag on a line of its own", "tasks:\n 0:\n !\n  0:", false},
		{"flow map piece", "id: p\ntasks:\n  a: {run: x}\n  {b: {run: y}}\n", false},
		{"flow tasks", "id: p\ntasks: {a: {run: x}}\n", false},
		{"quoted across tasks", "id: p\ntasks:\n  a: {run: \"x\n  b: y\"}\n", false},
		{"quoted key line", "id: p\ndescription: \"d\ntasks:\n  a: {run: x}\n\"\ntasks: {b: {run: y}}\n", false},
		{"alias", "id: p\ntasks:\n  a: {run: &r x}\n  b: {run: *r}\n", false},
		{"anchor in the top", "id: p\ndefaults: {env: &e {A: b}}\ntasks:\n  a: {run: x, env: *e}\n", false},
		{"two tasks keys", "id: p\ntasks:\n  a: {run: x}\ntasks:\n  b: {run: y}\n", false},
		{"duplicate across pieces", "id: p\ntasks:\n  a: {run: x}\n  a: {run: y}\n", true},
		{"tab", "id: p\ntasks:\n\ta: {run: x}\n", false},
		{"less indented", "id: p\ntasks:\n    a: {run: x}\n  b: {run: y}\n", false},
		{"second document", "id: p\ntasks:\n  a: {run: x}\n---\nid: q\n", true},
		{"directive", "%YAML 1.2\n---\nid: p\ntasks:\n  a: {run: x}\n", false},
		{"lone cr", "id: p\rtasks:\n  a: {run: x}\n", false},
		{"too deep", "id: p\ntasks:\n  a: {run: x, env: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}\n", false},
		{"unknown dependency", "id: p\ntasks:\n  a: {run: x, depends_on: c}\n  b: {run: y}\n", true},
		{"missing id", "tasks:\n  a: {run: x}\n  b: {run: y, retries: -1}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := samePieceWise(t, tt.name+".yaml", []byte(tt.src), 1); got != tt.pieces {
				t.Errorf("read in pieces to the end: %v, want %v", got, tt.pieces)
			}
		})
	}
}
