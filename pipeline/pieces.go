package pipeline

import (
	"bytes"
	"io"

	"go.yaml.in/yaml/v3"
)

// A big pipeline file is mostly its tasks: block, and the YAML reader
// builds the tree of a whole document before sluice walks any of it (about
// 1 KB of tree for each 37 bytes of a compact task, 40 MB for 40,000
// tasks). So the tasks: block of a big file is read a piece at a time: the
// file with that block left blank is read as the document, and the block
// is cut at the lines where a task starts into pieces of about pieceSize
// bytes, each read as a document of its own when the walk comes to the
// tasks. A piece's tree is let go once its tasks are walked.
//
// The pieces are a shortcut, never a second reading of YAML: a file
// whose pieces are not plainly the block's tasks (an alias, a piece that
// does not read as a map, anything the YAML reader rejects in the document
// or a piece) is read again whole. A line that starts a piece starts a key
// of the tasks map in the whole read too: it sits at the indentation of
// the map's keys, and a quoted or bracketed value cut there leaves its
// piece unclosed, which the reader rejects. The "tasks:" line is a key of
// the document's top map in the whole read too, as the text up to it is
// the same. So the walk sees the same keys and values at the same
// positions, and reports the same errors and warnings (TestPieces* and
// FuzzParse compare the two reads).
const (
	// piecewiseMin is the smallest file whose tasks are read in pieces.
	piecewiseMin = 64 << 10
	// pieceSize is about how many bytes of tasks a piece holds.
	pieceSize = 32 << 10
)

// taskPieces is the tasks: block of a file cut into pieces.
type taskPieces struct {
	// line is the line of the "tasks:" key, indent the indentation of
	// the block's keys.
	line   int
	indent int
	pieces []piece
}

// piece is a run of whole tasks of the block: text, a slice of the file,
// starts at line.
type piece struct {
	line int
	text []byte
}

// splitTasks finds the tasks: block of src and cuts it into pieces of
// about size bytes. It returns the file with the block's lines left empty
// (so every other line keeps its number), and ok false when the file is
// not one whose block can be cut safely: it must have exactly one line
// "tasks:" (with at most a comment after it), whose block is a map
// indented by spaces, with no line indented less than its keys but for
// blank and comment lines, no YAML directive and only \n or \r\n line
// ends.
func splitTasks(src []byte, size int) (top []byte, tp *taskPieces, ok bool) {
	if bytes.HasPrefix(src, []byte("%")) || bytes.Contains(src, []byte("\n%")) ||
		bytes.Contains(src, []byte("\u0085")) || bytes.Contains(src, []byte("\u2028")) || bytes.Contains(src, []byte("\u2029")) {
		return nil, nil, false
	}
	if n := bytes.Count(src, []byte("\r")); n > 0 && n != bytes.Count(src, []byte("\r\n")) {
		return nil, nil, false // a lone \r ends a line for YAML
	}
	// The lines of the block: from the line after "tasks:" up to the
	// first line written at column 1 that is not a comment.
	start, end := -1, len(src)
	indent := -1
	tp = &taskPieces{}
	pieceStart, pieceLine := 0, 0
	line := 0
	for off := 0; off < len(src); {
		line++
		nl := bytes.IndexByte(src[off:], '\n')
		next := len(src)
		if nl >= 0 {
			next = off + nl + 1
		}
		text := bytes.TrimRight(src[off:next], "\r\n")
		lead := len(text) - len(bytes.TrimLeft(text, " "))
		content := text[lead:]
		blank := len(content) == 0 || content[0] == '#'
		switch {
		case start < 0:
			if isTasksLine(text) {
				start, tp.line = next, line
			}
		case end < len(src) || blank:
			if end < len(src) && isTasksLine(text) {
				return nil, nil, false // a second one
			}
		case content[0] == '\t':
			return nil, nil, false
		case lead == 0:
			if isTasksLine(text) {
				return nil, nil, false
			}
			end = off // the block ends before this line
		case indent < 0:
			indent = lead
			pieceStart, pieceLine = off, line
		case lead < indent:
			return nil, nil, false
		case lead == indent && startsKey(content) && off-pieceStart >= size:
			tp.pieces = append(tp.pieces, piece{line: pieceLine, text: src[pieceStart:off]})
			pieceStart, pieceLine = off, line
		}
		off = next
	}
	if start < 0 || indent < 0 {
		return nil, nil, false
	}
	tp.indent = indent
	tp.pieces = append(tp.pieces, piece{line: pieceLine, text: src[pieceStart:end]})
	top = make([]byte, 0, len(src)-(end-start)+bytes.Count(src[start:end], []byte("\n")))
	top = append(top, src[:start]...)
	for range bytes.Count(src[start:end], []byte("\n")) {
		top = append(top, '\n')
	}
	top = append(top, src[end:]...)
	return top, tp, true
}

// isTasksLine reports whether line is the key "tasks:" at column 1 with
// no value, or only a comment, after it.
func isTasksLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("tasks:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " ")
	return len(rest) == 0 || rest[0] == '#' && len(rest) < len(line)-len("tasks:")
}

// startsKey reports whether a line at the indentation of the tasks' keys,
// written from content on, starts a task rather than continuing the one
// before: "- " may be a list the task's key holds, "? " and ": " are the
// halves of a complex key.
func startsKey(content []byte) bool {
	switch content[0] {
	case '-', '?', ':', '#':
		return false
	}
	return true
}

// readTaskPieces walks the tasks: block read in pieces. e is the "tasks"
// key of the document read without the block. It clears p.wholeAgain when
// every piece was plainly a part of the block's map of tasks; anything
// else stops the walk, and Parse reads the file again whole.
func (p *parser) readTaskPieces(f *file, e entry) {
	if e.keyAt != (pos{p.pieces.line, 1}) || !isImplicitNull(e.val) {
		return
	}
	first := map[string]pos{}
	for _, pc := range p.pieces.pieces {
		m, ok := p.readPiece(pc)
		if !ok {
			return
		}
		ents := p.mapEntries(m.Content, first, duplicateTask)
		m.Content = nil
		for i := range ents {
			f.tasks = append(f.tasks, p.task(ents[i]))
			ents[i].val = nil
		}
	}
	p.wholeAgain = false
}

// readPiece reads one piece: it must be one document whose body is a
// block map with no tag whose first key starts the piece's first line,
// at the block's indentation (a piece that starts with a tag, even on a
// line of its own, or with a flow map is not a run of the block's keys), with no anchor or alias (an alias could name an anchor of another piece,
// and the limit on what aliases add is the whole file's) and no nesting
// past maxNesting counted from the tasks: map. The nodes get the piece's
// line added to their own, so positions are the file's.
func (p *parser) readPiece(pc piece) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(pc.text))
	var doc, more yaml.Node
	if err := decodeYAML(dec, &doc); err != nil || len(doc.Content) != 1 {
		return nil, false
	}
	if m := doc.Content[0]; m.Kind != yaml.MappingNode || m.Style != 0 || m.Line != 1 || m.Column != p.pieces.indent+1 ||
		len(m.Content) == 0 || m.Content[0].Line != 1 || m.Content[0].Column != p.pieces.indent+1 {
		return nil, false
	}
	if err := decodeYAML(dec, &more); err != io.EOF {
		return nil, false
	}
	values, ok := placePiece(doc.Content[0], pc.line-1, 2)
	if !ok {
		return nil, false
	}
	// The whole read counts the tasks: map once; each piece's body stands
	// for it.
	p.values += values - 1
	return doc.Content[0], true
}

// placePiece adds lines to the line of n and of every node under it,
// which sits at depth (the file's top map is at 1), and returns how many
// values they are; ok is false at an anchor, an alias or nesting too deep.
func placePiece(n *yaml.Node, lines, depth int) (values int, ok bool) {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return 0, false
	}
	if (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && depth > maxNesting {
		return 0, false
	}
	n.Line += lines
	values = 1
	for _, c := range n.Content {
		v, ok := placePiece(c, lines, depth+1)
		if !ok {
			return 0, false
		}
		values += v
	}
	return values, true
}
