package pipeline

// ParseWhole is Parse reading the file whole, and ParseInPieces reading
// its tasks: block in pieces of about size bytes whatever the file's
// size, for the tests that compare the two reads (see pieces.go).
func ParseWhole(name string, src []byte) (*Pipeline, error) { return parse(name, src, -1, 0) }

func ParseInPieces(name string, src []byte, size int) (*Pipeline, error) {
	return parse(name, src, 0, size)
}
