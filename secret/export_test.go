package secret

// What displays show of a text, for the tests of package secret_test.
var (
	Terminal  = terminal
	Stripped  = func(s string) string { shown, _ := stripped(s); return shown }
	Unescaped = func(s string) string { u, _ := unescaped(s); return u }
	Invisible = invisible
	// SameOnTerminal reports what stripped says of a terminal.
	SameOnTerminal = func(s string) bool { _, same := stripped(s); return same }
)
