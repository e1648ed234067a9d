package sluicetest_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/sluicetest"
)

func TestAlive(t *testing.T) {
	if !sluicetest.Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	// A child that exited and that nobody waited for yet is a zombie.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(time.Minute)
	for sluicetest.Alive(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("an exited child (a zombie) still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
