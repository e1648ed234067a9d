package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/pipeline"
)

func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	// Shapes the testdata does not show: tags, aliases used as keys, merge
	// keys, odd scalars, several documents.
	for _, s := range []string{
		"id: &i p\ntasks:\n  *i : {run: x}\n",
		"id: !!str 123\ntasks: !!map\n  !!str 5: {run: !!str 7}\n",
		"id: p\ntasks: &x {a: {run: x, env: *x}}\n",
		"id: p\ntasks:\n  a:\n    <<: {run: x}\n",
		"id: p\ntasks:\n  ? a\n  : {run: x, depends_on: [[a]], command: [~, .nan, 0x10]}\n",
		"%YAML 1.2\n---\nid: p\ntasks: {a: {noop: true}}\n---\n",
		"id: p\ntimezone: Pacific/Kiritimati\nstart: 0001-01-01\nend: 9999-12-31T23:59:59-12:00\ntasks: {a: {run: x}}\n",
		"id: p\nparams: {r: {type: float, default: -0.0}, s: {type: int, default: 0b101}}\ntasks: {a: {run: x}}\n",
		"id: p\nschedule: '@every 2d'\ntasks: {a: {run: x, timeout: 106751d23h47m16s854ms775us807ns}}\n",
		"\ufeffid: p\r\ntasks:\r\n  a:\r\n    run: |\r\n      x\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := pipeline.ParseWhole("fuzz.yaml", src)
		// Reading the tasks: block in pieces, as Parse does for a big
		// file, gives what the whole read gives.
		inPieces, piecesErr := pipeline.ParseInPieces("fuzz.yaml", src, 1)
		if fmt.Sprint(err) != fmt.Sprint(piecesErr) {
			t.Fatalf("errors of the whole read:\n%v\nerrors of the read in pieces:\n%v", err, piecesErr)
		}
		if err == nil && (!bytes.Equal(p.Normalized(), inPieces.Normalized()) || !reflect.DeepEqual(p.Warnings, inPieces.Warnings)) {
			t.Fatalf("the read in pieces differs:\n%s%v\nthe whole read:\n%s%v", inPieces.Normalized(), inPieces.Warnings, p.Normalized(), p.Warnings)
		}
		if err != nil {
			var list pipeline.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse error is %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("badly positioned error %#v", e)
				}
			}
			return
		}
		spec := p.Normalized()
		q, err := pipeline.Decode(spec)
		if err != nil {
			t.Fatalf("Decode(Normalized()): %v\n%s", err, spec)
		}
		if q.Hash() != p.Hash() {
			t.Fatalf("hash changed in the round trip:\n%s\n%s", spec, q.Normalized())
		}
		if !reflect.DeepEqual(q, p) {
			t.Fatalf("Decode(Normalized()) differs from the parsed pipeline:\n%s", spec)
		}
		if got := p.TopoOrder(); len(got) != len(p.Tasks) {
			t.Fatalf("TopoOrder() has %d tasks, want %d", len(got), len(p.Tasks))
		}
		if (p.CronSchedule() == nil) != (p.Schedule == "") {
			t.Fatalf("CronSchedule() of schedule %q is %v", p.Schedule, p.CronSchedule())
		}
		_ = p.Location()
		_, _ = p.BindParams(nil)
	})
}
