package worker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRemoveStaleTmp: a worker at start removes the temp folders of
// workers whose process is gone, and only those.
func TestRemoveStaleTmp(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	alive := exec.Command("sleep", "30")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alive.Process.Kill(); alive.Wait() })

	if pidNamespace == "" {
		t.Fatal("no PID namespace in /proc/self/ns/pid: the stale folders of killed workers stay")
	}
	ns, _ := strconv.ParseUint(pidNamespace, 10, 64)
	otherNS := strconv.FormatUint(ns+1, 10)
	dir := t.TempDir()
	name := func(pid int, rest string) string { return tmpPrefix + tmpOwner(pid) + "-" + rest }
	keep := []string{
		name(os.Getpid(), "own"),
		name(alive.Process.Pid, "alive"),
		tmpPrefix + "123456789", // an older worker's: no process id to check
		tmpPrefix + otherNS + "." + strconv.Itoa(dead.Process.Pid) + "-other", // another PID namespace's
		"something-else",
	}
	gone := name(dead.Process.Pid, "dead")
	for _, d := range append(keep, gone) {
		if err := os.MkdirAll(filepath.Join(dir, d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := name(dead.Process.Pid, "file") // a file, not a worker's folder
	if err := os.WriteFile(filepath.Join(dir, file), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, file)

	removeStaleTmp(dir)
	for _, d := range keep {
		if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
		t.Errorf("the folder of a worker whose process is gone is still there (%v)", err)
	}
}
