package pipeline

import "testing"

func TestParseMemory(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"512m": 512 << 20, "2g": 2 << 30, "1.5g": 3 << 29, "2GB": 2 << 30, "64k": 64 << 10, "1048576": 1 << 20, "100b": 100,
	} {
		got, err := ParseMemory(in)
		if err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "m", "-1g", "0", "0.1", "1t", ".5g", "1e3m", "Infg"} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

func TestCheckVolume(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"./data:/data", "/srv/in:/in:ro", "cache:/root/.cache:rw"} {
		if err := CheckVolume(ok); err != nil {
			t.Errorf("CheckVolume(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"data", ":/data", "./data:data", "./d:/d:rx", "a:/b:ro:x"} {
		if err := CheckVolume(bad); err == nil {
			t.Errorf("CheckVolume(%q) accepted", bad)
		}
	}
}

// Two spellings of one container task are one version; a change of image
// is another.
func TestContainerHash(t *testing.T) {
	t.Parallel()
	hash := func(src string) string {
		t.Helper()
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return p.Hash()
	}
	a := hash("id: p\ntasks:\n  t:\n    container: {image: busybox:1.36, memory: 512m}\n    run: echo hi\n")
	b := hash("id: p\ntasks:\n  t:\n    run: echo hi\n    requires: [container]\n    container:\n      memory: 536870912\n      pull: missing\n      image: busybox:1.36\n")
	c := hash("id: p\ntasks:\n  t:\n    container: {image: busybox:1.37, memory: 512m}\n    run: echo hi\n")
	if a != b {
		t.Errorf("the same container task written two ways hashes differently")
	}
	if a == c {
		t.Errorf("another image hashes the same")
	}
}
